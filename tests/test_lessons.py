"""Lessons as data (core.lessons): the bundled ones, and clear messages for bad files."""

import json
import shutil

import pytest
from mlp_studio.core.lessons import (
    VIEWS,
    LessonError,
    bundled_folder,
    data_size,
    load_lessons,
    read_lesson,
)

MINIMAL = {
    "format": "mlp-studio-lesson", "version": 1, "id": "tiny", "order": 1, "title": "Tiny",
    "text": "Look.", "question": "What?",
    "experiment": {"source": "playground", "playground": {"dataset": "xor"},
                   "network": {"hidden": []}},
}  # fmt: skip


def write(folder, name, doc):
    path = folder / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return path


def changed(**changes):
    doc = json.loads(json.dumps(MINIMAL))
    for dotted, value in changes.items():
        *parents, key = dotted.split("__")
        target = doc
        for parent in parents:
            target = target[parent]
        if value is None:
            target.pop(key)
        else:
            target[key] = value
    return doc


def test_the_bundled_lessons_are_the_lecture_in_order():
    lessons, problems = load_lessons()
    assert problems == []
    assert [lesson.order for lesson in lessons] == list(range(1, 13))
    assert len({lesson.id for lesson in lessons}) == 12
    for lesson in lessons:
        assert lesson.text and lesson.question and lesson.check and lesson.views
        assert set(lesson.views) <= set(VIEWS)
        for setup in [lesson.setup, *(v.setup for v in lesson.variants)]:
            setup.spec.validate()
            setup.train_config.validate()
            sizes = (setup.spec.input_size, setup.spec.output_size)
            if setup.source == "table":  # lesson 9's houses: nine encoded inputs, one price
                assert sizes == (9, 1) and setup.table.path.endswith("house_prices.csv")
            else:
                assert sizes == data_size(setup.source, setup.playground, setup.data_config)


def test_variants_change_only_what_they_name():
    lessons = {lesson.id: lesson for lesson in load_lessons()[0]}
    xor = lessons["why-layers"]
    assert xor.setup.spec.hidden == [] and xor.setup.playground.dataset == "xor"
    one = xor.variants[0].setup
    assert [(h.units, h.activation.name) for h in one.spec.hidden] == [(4, "tanh")]
    assert one.playground.to_dict() == xor.setup.playground.to_dict()
    assert one.train_config == xor.setup.train_config
    tasks = lessons["losses-by-task"]
    seven = tasks.variants[1].setup
    assert (seven.source, seven.playground, seven.data_config.target_digit) == ("mnist", None, 7)
    assert (seven.spec.input_size, seven.spec.output_size) == (784, 2)
    assert tasks.setup.spec.output_size == 1  # a regression: one output


def test_pairs_change_exactly_one_setting():
    lessons = {lesson.id: lesson for lesson in load_lessons()[0]}
    plan = lessons["vanishing-gradients"].pair.plan
    assert (plan.setting.name, plan.old, plan.new) == ("activation", "sigmoid", "relu")
    assert plan.same_weights and plan.changed.spec == lessons["vanishing-gradients"].variants[
        0].setup.spec  # the pair's B is the lesson's variant
    assert plan.base.data is None  # Playground points: no data setting to change


def test_settings_left_out_are_the_sources_suggestions(tmp_path):
    lesson = read_lesson(write(tmp_path, "tiny.json", MINIMAL))
    config = lesson.setup.train_config
    assert (config.optimizer, config.lr, config.batch_size) == ("adam", 0.03, 10)
    assert (lesson.setup.spec.input_size, lesson.setup.spec.output_size) == (2, 2)
    assert lesson.variants == () and lesson.check == ""


@pytest.mark.parametrize(("doc", "field", "words"), [
    ("{ not json", None, "not valid JSON at line 1"),
    (changed(format="lesson"), "format", "mlp-studio-lesson"),
    (changed(version=7), "version", "newer than this MLP Studio reads"),
    (changed(order="first"), "order", "whole number"),
    (changed(title=""), "title", "must be a text"),
    (changed(colour="red"), "(the file)", "unknown key(s) colour"),
    (changed(experiment__source="imagenet"), "experiment.source", "playground, mnist"),
    (changed(experiment__training={"lr": "fast"}), "experiment.training", "learning rate"),
    (changed(experiment__training={"speed": 3}), "experiment.training", "speed"),
    (changed(experiment__network={"input_size": 3}), "experiment.network.input_size",
     "follows from the data"),
    (changed(experiment__network={"hidden": [{"units": 0}]}), "experiment.network",
     "Hidden layer 1 has 0 neurons"),
    (changed(experiment__playground={"dataset": "moons"}), "experiment.playground",
     "unknown dataset 'moons'"),
    (changed(experiment__data={"target_digit": -1}), "experiment.data", "target class"),
    (changed(experiment__source="mnist", experiment__data={"target_digit": 12},
             experiment__playground=None), "experiment.data.target_digit", "not a digit"),
    (changed(views=["gradients"]), "views", "'gradients' is not a view"),
    (changed(variants=[{"label": "x", "training": {"epochs": -1}}]), "variants[0].training",
     "epochs"),
    (changed(variants=[{"training": {}}]), "variants[0].label", "must be a text"),
    (changed(help="nowhere"), "help", "not a Help topic"),
    (changed(pair={"label": "x", "change": "colour=red"}), "pair.change", "unknown setting"),
    (changed(pair={"label": "x", "change": "normalization=none"}), "pair.change",
     "data setting"),
    (changed(pair={"label": "x", "change": "lr"}), "pair.change", "not NAME=VALUE"),
])  # fmt: skip
def test_a_bad_lesson_file_is_named_with_its_field(tmp_path, doc, field, words):
    path = write(tmp_path, "07-bad.json", doc)
    with pytest.raises(LessonError) as info:
        read_lesson(path)
    message = str(info.value)
    assert message.startswith("Lesson file 07-bad.json")
    if field is not None:
        assert f"field '{field}'" in message
    assert words.lower() in message.lower()


def test_bad_files_are_reported_and_the_others_still_load(tmp_path):
    for path in bundled_folder().glob("*.*"):  # the lessons and lesson 9's table
        shutil.copy(path, tmp_path)
    write(tmp_path, "13-broken.json", "[1, 2")
    write(tmp_path, "14-again.json", changed(id="neuron"))  # an id that is taken
    (tmp_path / "15-folder.json").mkdir()
    lessons, problems = load_lessons(tmp_path)
    assert len(lessons) == 12
    assert len(problems) == 3
    assert any("13-broken.json" in p and "not valid JSON" in p for p in problems)
    assert any("14-again.json" in p and "'neuron' is also the id of 01-neuron.json" in p
               for p in problems)
    assert any("15-folder.json" in p for p in problems)


def test_a_table_lesson_names_a_csv_beside_it(tmp_path):
    doc = changed(experiment={"source": "table", "table": {"file": "houses.csv"}})
    with pytest.raises(LessonError, match="'houses.csv' is not a file beside the lesson"):
        read_lesson(write(tmp_path, "t.json", doc))
    doc["experiment"]["table"]["file"] = "../houses.csv"
    with pytest.raises(LessonError, match="experiment.table.file"):
        read_lesson(write(tmp_path, "t.json", doc))
    (tmp_path / "houses.csv").write_text("rooms,price\n2,100\n3,150\n4,210\n")
    doc["experiment"]["table"] = {"file": "houses.csv", "target": "price", "task": "regression"}
    setup = read_lesson(write(tmp_path, "t.json", doc)).setup
    assert (setup.source, setup.table.target, setup.spec.input_size) == ("table", "price", 1)


def test_a_missing_folder_is_one_message():
    lessons, problems = load_lessons("/nonexistent/lessons")
    assert lessons == [] and "missing" in problems[0]


def test_lesson_4_same_predictions_cost_differently_under_the_two_losses():
    import torch
    from mlp_studio.core.model import build_model
    from mlp_studio.core.playground import generate, make_data
    from mlp_studio.core.training import losses_now

    lesson = {lesson.id: lesson for lesson in load_lessons()[0]}["loss"]
    results = []
    for setup in (lesson.setup, lesson.variants[0].setup):
        p = setup.playground
        data = make_data(generate(p.dataset, p.points, p.noise / 100, p.seed, p.classes),
                         p.features, p.train_percent / 100, p.seed).data
        model = build_model(setup.spec)
        with torch.no_grad():
            predictions = model(data.x_test).softmax(1)
        results.append((predictions, losses_now(model, data, setup.train_config.loss)[1]))
    (p_ce, ce), (p_mse, mse) = results
    assert torch.equal(p_ce, p_mse)  # the same network, the same seed: the same predictions
    assert abs(ce - 0.69) < 0.05 and abs(mse - 0.25) < 0.03  # what the answer says
