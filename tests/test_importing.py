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
