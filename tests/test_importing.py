"""Predictions made elsewhere: every form the field uses is read; anything else is one line."""

import json

import pytest

from sweboard.errors import SweboardError
from sweboard.importing import read_predictions

P = {"instance_id": "a__b-1", "model_name_or_path": "m", "model_patch": "diff --git a/x b/x\n"}


@pytest.mark.parametrize("text", [
    json.dumps(P) + "\n" + json.dumps({**P, "instance_id": "a__b-2", "model_patch": None}) + "\n",  # all_preds.jsonl
    json.dumps({"a__b-1": P, "a__b-2": {**P, "instance_id": "a__b-2", "model_patch": ""}}),  # preds.json
    json.dumps([P, {**P, "instance_id": "a__b-2", "model_patch": ""}]),  # a list
])
def test_all_preds_preds_json_and_lists_are_read(tmp_path, text):
    f = tmp_path / "p"
    f.write_text(text)
    assert read_predictions(f) == {"a__b-1": P["model_patch"], "a__b-2": ""}


@pytest.mark.parametrize("text, message", [
    ("not json\n", ":1: not a JSON object"),
    (json.dumps({**P, "instance_id": ""}), "field 'instance_id'"),
    (json.dumps([P, P]), "a__b-1 predicted twice"),
    (json.dumps({**P, "model_patch": 3}), "field 'model_patch'"),
    ("", "no predictions"),
])
def test_bad_predictions_are_one_line(tmp_path, text, message):
    f = tmp_path / "p"
    f.write_text(text)
    with pytest.raises(SweboardError, match=message):
        read_predictions(f)


def test_an_error_in_a_json_list_names_its_line(tmp_path):
    f = tmp_path / "preds.json"
    f.write_text("[\n  " + json.dumps(P) + ",\n\n  " + json.dumps({**P, "instance_id": "a__b-2", "model_patch": 7}) + "\n]\n")
    with pytest.raises(SweboardError, match=rf"^{f}:4: field 'model_patch'"):
        read_predictions(f)


@pytest.mark.parametrize("name", ["scripted/solver", "scripted/anything", "instant_empty_submit"])
def test_an_import_never_makes_test_equipment_a_models_result(home, name):
    from sweboard.cli.grading import refuse_test_equipment_name

    with pytest.raises(SweboardError, match="names test equipment or the baseline"):
        refuse_test_equipment_name(name)
    refuse_test_equipment_name("elsewhere/model")


def test_the_slice_is_the_one_the_predictions_fit(tmp_path):
    from sweboard.importing import infer_slice

    (tmp_path / "instances_a.yaml").write_text(
        "lite: {dataset_lock: x.lock, split: dev, instances: [{id: a__b-1, why: w}, {id: a__b-2, why: w}]}\n"
        "big: {dataset_lock: x.lock, split: dev, instances: [{id: a__b-1, why: w}, {id: a__b-2, why: w}, {id: c__d-1, why: w}]}\n")
    (tmp_path / "instances_b.yaml").write_text(
        "other: {dataset_lock: x.lock, split: dev, instances: [{id: a__b-1, why: w}, {id: e__f-1, why: w}]}\n")
    assert infer_slice({"a__b-1", "a__b-2"}, tmp_path)[1] == "lite", "an exact fit wins"
    assert infer_slice({"c__d-1"}, tmp_path)[1] == "big", "the only slice holding them"
    assert infer_slice({"zz__z-1"}, tmp_path) is None
    with pytest.raises(SweboardError, match=r"fit several slices \(instances_a.yaml \[lite\] \(2 tasks\), "):
        infer_slice({"a__b-1"}, tmp_path)


def test_an_import_joined_to_a_run_is_paired_and_ranked_with_its_models():
    from sweboard.leaderboard import leaderboard_rows, pairwise_rows
    from test_leaderboard import attempt, manifest

    ids = tuple(f"r{i % 3}__x-{i}" for i in range(8))
    m = manifest("R", {"model": {t: [attempt(1), attempt(2)] for t in ids}, "elsewhere": {t: [attempt(1)] for t in ids}},
                 {"model": {t: ["resolved", "resolved"] if i < 7 else ["unresolved", "unresolved"] for i, t in enumerate(ids)},
                  "elsewhere": {t: ["unresolved"] for t in ids}}, ids=ids)
    m["batches"]["model"]["attempts_per_task"] = 2
    m["batches"]["elsewhere"].update(runner="imported", attempts_per_task=1)
    [pair] = pairwise_rows(m)
    assert {pair["model_a"], pair["model_b"]} == {"model", "elsewhere"} and pair["K"] == 2, "paired at the run's K"
    rows = {r["model"]: r for r in leaderboard_rows([m])}
    assert rows["elsewhere"]["board_K"] == 2 and rows["model"]["rank"] == 1 and rows["elsewhere"]["rank"] == 2
