"""Train biased matrix factorization on MovieLens-100k with sparse embedding gradients, then recommend.

    pip install --no-deps recbole        # ships the MovieLens-100k files
    python examples/movielens_recommend.py

About 15 s on one core: test RMSE ~0.91 on a random 80/20 split.
"""

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.data.datasets.movielens import RatingsLoader, load_movielens_100k, split_random
from chainrule.models.recommender import MatrixFactorization, Recommender, make_optimizer, rating_rmse

cr.manual_seed(0)
data = load_movielens_100k()
train, test = split_random(data, (0.8, 0.2), seed=0)

# Embedding(sparse=True) tables: each step's gradient holds only the rows the batch looked up,
# and SparseAdam updates only those rows.
model = MatrixFactorization(
    data.num_users, data.num_items, embedding_dim=64, weight_decay=0.1, global_bias=float(train.ratings.mean())
)
optimizer = make_optimizer(model, lr=5e-3)
loader = RatingsLoader(train, batch_size=512, shuffle=True)

for epoch in range(10):
    for (users, items), ratings in loader:
        loss = F.mse_loss(model(users, items), ratings)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    rmse = rating_rmse(model, test.users, test.items, test.ratings, clip=(1, 5))
    print(f"epoch {epoch + 1}: test RMSE {rmse:.4f}")

seen = np.stack([data.users, data.items], axis=1)
recommender = Recommender(model, data.user_ids, data.item_ids, data.item_titles, seen)
for rank, item in enumerate(recommender.recommend(user_id=196, k=5), start=1):
    print(f"{rank}. {item.title} (predicted {item.score:.2f})")
