"""X12 837 claims and 835 remittances: reading, labelling by CARC/RARC, writing."""
