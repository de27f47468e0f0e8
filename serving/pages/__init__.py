"""Server-rendered pages under /app/ for schedulers (and, to come, billers and the practice)."""
