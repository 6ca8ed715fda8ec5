"""An older draft of part 3, one folder down; the top-level file is graded."""


def attention_weights(q, K):
    raise NotImplementedError("old draft")
