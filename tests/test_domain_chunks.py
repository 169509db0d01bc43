"""jobs.domain.chunks: the one way the code splits work into pieces."""

import pytest

from jobs.domain.chunks import chunked


def test_chunks_keep_order_and_the_last_one_is_short():
    assert list(chunked(list(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]


def test_an_exact_multiple_and_an_empty_sequence():
    assert list(chunked("abcd", 2)) == [["a", "b"], ["c", "d"]]
    assert list(chunked([], 20)) == []


def test_a_size_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        list(chunked([1], 0))


def test_an_iterator_is_read_one_chunk_at_a_time() -> None:
    read = []

    def items():
        for i in range(5):
            read.append(i)
            yield i

    chunks = chunked(items(), 2)
    assert next(chunks) == [0, 1] and read == [0, 1]
    assert list(chunks) == [[2, 3], [4]]
