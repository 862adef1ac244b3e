"""The MLflow pyfunc model of an embedding-head reward model, logged from code (MLflow runs this file when it loads
the model; nothing is pickled). Input: a table of `prompt` (the messages as JSON text) and `reply`; output: the raw
reward of each row."""

import json

import mlflow


class EmbeddingHeadModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        from components.reward_models.embedding_head import EmbeddingHeadScorer

        self.scorer = EmbeddingHeadScorer(context.artifacts["model"])

    def predict(self, context, model_input, params=None):
        prompts = [json.loads(p) for p in model_input["prompt"]]
        return self.scorer.raw(prompts, list(model_input["reply"]))


mlflow.models.set_model(EmbeddingHeadModel())
