"""What a trained model is and how it scores: fitted models, the compiled scorer, the scoring services."""
