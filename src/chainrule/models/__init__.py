"""Reference models built from chainrule's layers: BERT-family encoders (loading Hugging Face checkpoints)
and recommenders (matrix factorization, NeuMF)."""

from .bert import BertConfig, BertForSequenceClassification, BertModel, BertModelOutput, mean_pooling
from .pretrained import ConfigError, WeightsError
from .recommender import MatrixFactorization, NeuMF, Recommender, RecommenderError, ranking_metrics, rating_rmse

__all__ = [
    "BertConfig",
    "BertForSequenceClassification",
    "BertModel",
    "BertModelOutput",
    "ConfigError",
    "WeightsError",
    "mean_pooling",
    "MatrixFactorization",
    "NeuMF",
    "Recommender",
    "RecommenderError",
    "ranking_metrics",
    "rating_rmse",
]
