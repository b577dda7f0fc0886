"""The Data dock's choice of data and its look at a table: what is asked for, and the preview
of a CSV's first rows with types, missing counts and the target highlighted."""

from mlp_studio.app.panels.data.source_chooser import SourceChooser
from mlp_studio.app.panels.data.table_preview import TablePreviewView
from mlp_studio.core.data_source import DataSource
from PySide6.QtCore import Qt


def chooser(qtbot) -> SourceChooser:
    widget = SourceChooser()
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_families_are_requested_at_once_and_folders_once_chosen(qtbot):
    w = chooser(qtbot)
    assert w.current() == DataSource() and not w.images_box.isVisible()
    with qtbot.waitSignal(w.sourceRequested) as asked:
        w.kind_combo.setCurrentIndex(w.kind_combo.findData("fashion-mnist"))
    assert asked.args == [DataSource("mnist", dataset="fashion-mnist")]

    with qtbot.assertNotEmitted(w.sourceRequested):  # nothing to load before a folder
        w.kind_combo.setCurrentIndex(w.kind_combo.findData("images"))
    assert w.images_box.isVisible() and w.current() is None
    with qtbot.waitSignal(w.sourceRequested) as asked:
        w.set_images_folder("/data/flowers")
    assert asked.args == [DataSource("images", "/data/flowers")]
    with qtbot.waitSignal(w.sourceRequested, timeout=3000) as asked:  # after a pause
        w.size_spin.setValue(32)
        w.size_spin.setValue(16)
        w.color_combo.setCurrentIndex(1)
    assert asked.args == [DataSource("images", "/data/flowers", image_size=16, color=True)]


def test_a_table_asks_for_its_target_and_task(qtbot):
    w = chooser(qtbot)
    w.kind_combo.setCurrentIndex(w.kind_combo.findData("table"))
    assert w.table_box.isVisible() and not w.target_combo.isEnabled()
    with qtbot.waitSignal(w.sourceRequested) as asked:
        w.set_table_file("/d/wine.csv")
    assert asked.args == [DataSource("table", "/d/wine.csv")]  # target: the last, once known
    w.set_columns(["alcohol", "ash", "quality"])
    assert w.target_combo.currentText() == "quality"  # the last column by default
    with qtbot.waitSignal(w.sourceRequested) as asked:
        w.target_combo.setCurrentIndex(0)
    assert asked.args == [DataSource("table", "/d/wine.csv", target="alcohol")]
    with qtbot.waitSignal(w.sourceRequested) as asked:
        w.task_combo.setCurrentIndex(w.task_combo.findData("regression"))
    assert asked.args[0].task == "regression"


def test_showing_a_source_asks_for_nothing(qtbot):
    w = chooser(qtbot)
    source = DataSource("images", "/d/pets", image_size=64, color=True)
    with qtbot.assertNotEmitted(w.sourceRequested, wait=700):
        w.show_source(source)
    assert w.current() == source and w.images_box.isVisible()
    table = DataSource("table", "/d/houses.csv", target="price", task="regression")
    w.show_source(table)
    assert w.current() == table and w.target_combo.currentText() == "price"


def test_preview_shows_types_missing_and_the_target(qtbot, tmp_path):
    from mlp_studio.core.tables import preview

    path = tmp_path / "houses.csv"
    path.write_text("rooms,city,price\n3,Oslo,310\n,Bergen,250\n2,Oslo,200\n4,Bergen,330\n")
    view = TablePreviewView()
    qtbot.addWidget(view)
    table = preview(path, 20)
    view.set_preview(table)
    model = view.model()
    assert model.rowCount() == 2 + 4 and model.columnCount() == 3
    text = [[model.index(r, c).data() for c in range(3)] for r in range(4)]
    assert text[0] == ["number", "category", "number"]
    assert text[1] == ["1 missing", "complete", "complete"]
    assert text[2] == ["3", "Oslo", "310"] and text[3][0] == ""
    header = model.headerData(2, Qt.Orientation.Horizontal)
    assert header == "price (target)" and model.headerData(0, Qt.Orientation.Horizontal) == "rooms"
    assert model.index(2, 2).data(Qt.ItemDataRole.BackgroundRole) is not None
    assert model.index(2, 0).data(Qt.ItemDataRole.BackgroundRole) is None
    view.set_target(0)
    assert model.headerData(0, Qt.Orientation.Horizontal) == "rooms (target)"
