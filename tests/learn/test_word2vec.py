import numpy as np
import pytest

import omnivec
from omnivec.errors import InputError, UnknownNameError
from omnivec.learn import _trainer
from omnivec.learn.word2vec import Word2Vec

from planted_words import GROUPS

FAST = dict(dim=16, min_count=1, epochs=4, sample=0, workers=1)


def nearest_in_group(emb, word):
    group = next(g for g in GROUPS if word in g)
    top = [k for k, _ in emb.most_similar(word, topn=len(group) - 1)]
    return set(top) == set(group) - {word}


@pytest.mark.parametrize("architecture", ["skipgram", "cbow"])
@pytest.mark.parametrize("loss", ["negative", "hierarchical_softmax"])
def test_planted_synonyms_end_up_nearest(planted_corpus, architecture, loss):
    emb = Word2Vec(architecture=architecture, loss=loss, **FAST).fit(planted_corpus)
    hits = [nearest_in_group(emb, w) for g in GROUPS for w in g]
    assert sum(hits) >= len(hits) - 1, hits


def test_result_is_frequency_sorted_with_counts_and_provenance(planted_corpus):
    emb = Word2Vec(**FAST).fit(planted_corpus)
    assert (np.diff(emb.counts) <= 0).all()
    assert emb.counts.sum() == sum(len(s) for s in planted_corpus)
    meta = emb.meta
    assert meta["learner"] == "word2vec"
    assert meta["params"]["dim"] == 16 and meta["params"]["architecture"] == "skipgram"
    assert len(meta["corpus"]["fingerprint"]) == 32
    assert meta["training"][-1]["epochs_done"] == 4 and not meta["training"][-1]["interrupted"]


def test_one_worker_is_bit_for_bit_reproducible(planted_corpus):
    a = Word2Vec(seed=7, **FAST).fit(planted_corpus)
    b = Word2Vec(seed=7, **FAST).fit(planted_corpus)
    c = Word2Vec(seed=8, **FAST).fit(planted_corpus)
    assert np.array_equal(a.vectors, b.vectors)
    assert not np.array_equal(a.vectors, c.vectors)


def test_several_workers_learn_the_same_structure(planted_corpus):
    emb = Word2Vec(**{**FAST, "workers": 3}).fit(planted_corpus * 2)
    hits = [nearest_in_group(emb, w) for g in GROUPS for w in g]
    assert sum(hits) >= len(hits) - 1


def test_callbacks_receive_each_epoch_loss(planted_corpus):
    seen = []
    learner = Word2Vec(callbacks=[seen.append], **{**FAST, "epochs": 5})
    learner.fit(planted_corpus)
    assert [r.epoch for r in seen] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(r.loss) and r.loss > 0 for r in seen)
    assert seen[-1].loss < seen[0].loss
    assert seen[0].words == sum(len(s) for s in planted_corpus)


def test_ctrl_c_mid_epoch_keeps_a_usable_model(planted_corpus, monkeypatch):
    real = _trainer.K.train_chunk
    calls = {"n": 0}

    def interrupting(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(_trainer.K, "train_chunk", interrupting)
    learner = Word2Vec(**{**FAST, "epochs": 50})
    emb = learner.fit(planted_corpus * 10)   # several chunks per epoch
    run = emb.meta["training"][-1]
    assert run["interrupted"] and run["epochs_done"] == 0
    assert learner.interrupted_
    assert np.isfinite(emb.vectors).all() and len(emb) == len({w for s in planted_corpus for w in s})


def test_ctrl_c_in_a_callback_stops_after_that_epoch(planted_corpus):
    def stop(report):
        if report.epoch == 2:
            raise KeyboardInterrupt

    emb = Word2Vec(callbacks=[stop], **{**FAST, "epochs": 10}).fit(planted_corpus)
    assert emb.meta["training"][-1]["epochs_done"] == 2 and emb.meta["training"][-1]["interrupted"]


def test_update_grows_the_vocabulary_and_keeps_rows(planted_corpus):
    learner = Word2Vec(**FAST)
    first = learner.fit(planted_corpus)
    extra = [["zebra", "animal", "pet", "fur"], ["zebra", "zoo", "tail"]] * 50 + planted_corpus[:100]
    second = learner.update(extra)
    assert len(second) == len(first) + 1
    assert [second.key(i) for i in range(len(first))] == list(first)
    assert second.key(len(first)) == "zebra"
    assert second.counts[second.row("cat")] > first.counts[first.row("cat")]
    assert len(second.meta["training"]) == 2
    # the model returned by fit is not changed by the update
    assert not np.shares_memory(first.vectors, second.vectors)
    with pytest.raises(InputError, match="call fit"):
        Word2Vec(**FAST).update(extra)


@pytest.mark.parametrize("kw, message", [
    (dict(dim=0), "The 'dim' parameter of Word2Vec must be an int in [1, 4096]. Got 0 instead."),
    (dict(window=2.5), "The 'window' parameter of Word2Vec must be an int in [1, 1000]. Got 2.5 instead."),
    (dict(architecture="sg2"), "The 'architecture' parameter of Word2Vec must be one of 'skipgram', 'cbow'."),
    (dict(loss="softmax"), "The 'loss' parameter of Word2Vec must be one of 'negative', 'hierarchical_softmax'."),
    (dict(sample=1.0), "The 'sample' parameter of Word2Vec must be a float in [0.0, 1.0)."),
    (dict(epochs=True), "The 'epochs' parameter of Word2Vec must be an int"),
    (dict(workers=0), "The 'workers' parameter of Word2Vec must be an int in [1, 1024] or None. Got 0"),
    (dict(callbacks=[1]), "The 'callbacks' parameter of Word2Vec must be a sequence of callables."),
])
def test_bad_parameters_are_named(kw, message):
    with pytest.raises(InputError) as err:
        Word2Vec(**kw)
    assert message in str(err.value)


def test_named_options_accept_aliases():
    assert Word2Vec(architecture="CBOW", loss="hs").get_params()["loss"] == "hierarchical_softmax"
    assert Word2Vec(architecture="skip-gram").architecture == "skipgram"


def test_no_word_reaching_min_count(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("every word here is unique\n")
    with pytest.raises(InputError, match="min_count=5"):
        Word2Vec(min_count=5).fit(p)


def test_real_text_model_file_round_trip(glosses, tmp_path):
    emb = Word2Vec(dim=24, epochs=1, workers=2, min_count=3).fit(glosses)
    assert len(emb) > 2000
    path = tmp_path / "w.omv"
    emb.save(path)
    back = omnivec.load(path)
    assert list(back) == list(emb)
    assert np.array_equal(back.vectors, emb.vectors) and np.array_equal(back.counts, emb.counts)
    assert back.meta["corpus"]["fingerprint"] == emb.meta["corpus"]["fingerprint"]


@pytest.mark.parametrize("suffix, fmt", [(".txt", "word2vec-text"), (".bin", "word2vec-binary"),
                                         (".vec", "fasttext-vec")])
def test_word2vec_formats_round_trip_identically(planted_corpus, tmp_path, suffix, fmt):
    formats = pytest.importorskip("omnivec.store.formats")
    emb = Word2Vec(**FAST).fit(planted_corpus)
    path = tmp_path / f"w{suffix}"
    formats.export_vectors(emb, path, fmt)
    back, _ = formats.import_vectors(path, format=fmt)
    assert list(back) == list(emb)
    assert np.array_equal(back.vectors, emb.vectors)


def test_learners_are_registered_by_name():
    from omnivec.learn import FastText, LEARNERS, get_learner

    assert get_learner("Word2Vec") is Word2Vec and get_learner("fast_text") is FastText
    assert LEARNERS.names()[:2] == ["word2vec", "fasttext"]
    with pytest.raises(UnknownNameError, match="word2vec, fasttext"):
        get_learner("glove")


def test_ctrl_c_with_threads_stops_the_workers_and_keeps_the_model(planted_corpus, monkeypatch):
    import _thread
    import signal
    import threading

    real = _trainer.K.train_chunk
    calls = {"n": 0}

    def interrupting(*args):
        calls["n"] += 1
        if calls["n"] == 6:  # a few chunks into epoch 2 (3-4 chunks an epoch), from a training thread
            _thread.interrupt_main()  # what Ctrl-C does: KeyboardInterrupt in the main thread
        return real(*args)

    monkeypatch.setattr(_trainer.K, "train_chunk", interrupting)
    # Ctrl-C must raise KeyboardInterrupt whatever handler an earlier test left installed
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        learner = Word2Vec(**{**FAST, "workers": 2, "epochs": 400})
        emb = learner.fit(planted_corpus * 4)
    finally:
        signal.signal(signal.SIGINT, old)
    run = emb.meta["training"][-1]
    assert run["interrupted"] and 1 <= run["epochs_done"] < 400
    assert np.isfinite(emb.vectors).all()
    alive = [t for t in threading.enumerate() if t.name.startswith("omnivec-train-")]
    assert not alive   # the training threads were joined (other libraries' threads don't count)


def test_progress_bar_shows_rate_loss_and_lr(planted_corpus, capsys):
    Word2Vec(progress=True, **FAST).fit(planted_corpus)
    err = capsys.readouterr().err
    assert "words/s" in err and "loss" in err and "lr" in err
