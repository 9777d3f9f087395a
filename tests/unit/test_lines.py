"""Log lines out of chunks: whole, in order, and a 20 MB line without a newline in linear time."""

from napcompose.adapters.lines import split_lines


def test_lines_across_chunk_boundaries_come_out_whole():
    chunks = [b"a", b"b\nc", b"\n", b"\n\nd", b"e"]
    assert list(split_lines(chunks)) == [b"ab", b"c", b"", b"", b"de"]
    assert list(split_lines([b"x\n"])) == [b"x"]
    assert list(split_lines([])) == []


def test_a_20_mb_line_in_16_kib_chunks_comes_out_once_and_whole():
    # Before, each chunk was appended to the pending bytes and the whole split again: about 1,280
    # rescans of up to 20 MB for this line (minutes); now each byte is scanned once.
    chunk = b"x" * 16384
    count = 20 * 1024 * 1024 // len(chunk)
    lines = list(split_lines([chunk] * count + [b"\nlast"]))
    assert [len(line) for line in lines] == [count * len(chunk), 4]
