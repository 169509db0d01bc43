"""Search expressions and records: pure helpers for jobs.search_sync."""

from jobs.domain import search


def test_names_are_grouped_twenty_an_expression() -> None:
    names = [f"job-{i}" for i in range(45)]
    expressions = list(search.by_names(names))
    assert [len(e["Filters"]) for e in expressions] == [20, 20, 5]
    assert all(e["Operator"] == "Or" for e in expressions)
    flat = [f["Value"] for e in expressions for f in e["Filters"]]
    assert flat == names
    assert {(f["Name"], f["Operator"]) for e in expressions for f in e["Filters"]} == {("TrainingJobName", "Equals")}
    assert list(search.by_names([])) == []


def test_status_expression() -> None:
    assert search.by_status("InProgress") == {
        "Filters": [{"Name": "TrainingJobStatus", "Operator": "Equals", "Value": "InProgress"}]
    }


def test_tags_come_out_of_the_record() -> None:
    record = {"TrainingJobName": "a", "Tags": [{"Key": "team", "Value": "nlp"}, {"Key": "<b>", "Value": ""}]}
    raw, tags = search.split_tags(record)
    assert raw == {"TrainingJobName": "a"}
    assert tags == {"team": "nlp", "<b>": ""}
    assert record["Tags"]  # the record itself is left as it was


def test_unreadable_or_absent_tags_are_unknown_not_empty() -> None:
    assert search.split_tags({"TrainingJobName": "a"}) == ({"TrainingJobName": "a"}, None)
    assert search.split_tags({"TrainingJobName": "a", "Tags": "team=nlp"})[1] is None
    assert search.split_tags({"TrainingJobName": "a", "Tags": ["team"]})[1] is None
    assert search.split_tags({"TrainingJobName": "a", "Tags": []})[1] == {}
