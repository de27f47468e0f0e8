"""What a trained model is: task specs, estimators, the compiled scorer and the MLflow pyfunc."""
