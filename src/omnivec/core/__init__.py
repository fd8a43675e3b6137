"""The leaf types a table is made of: keys, stored vectors, subwords and n-grams, out-of-vocabulary
vectors, exact top-k search and its result type.  Nothing here imports the file, search or learning
layers; `omnivec.embeddings.Embeddings` is built from these parts."""
