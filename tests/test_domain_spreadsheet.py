import pytest

from jobs.domain.spreadsheet import safe_cell


@pytest.mark.parametrize(
    "text",
    [
        "=HYPERLINK(\"http://x\",\"y\")",
        "+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        "-",
        "--lr 0.1",
    ],
)
def test_text_that_a_spreadsheet_would_run_is_kept_as_text(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["-0.5", "+3", "-1e-4", "-.5", "resnet-50", "a=b", "x@y", ""])
def test_numbers_and_ordinary_text_are_left_alone(text: str) -> None:
    assert safe_cell(text) == text


def test_non_text() -> None:
    assert safe_cell(None) == ""
    assert safe_cell(True) == "true" and safe_cell(False) == "false"
    assert safe_cell(-3) == -3 and safe_cell(0.25) == 0.25
