import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

MNIST_ENV = "MLP_STUDIO_DATA"


def full_mnist_dir() -> Path | None:
    value = os.environ.get(MNIST_ENV)
    if value and (Path(value) / "train-images-idx3-ubyte.gz").exists():
        return Path(value)
    return None


@pytest.fixture
def mnist_dir() -> Path:
    """The full MNIST folder; skips where it is absent (CI always has it)."""
    folder = full_mnist_dir()
    if folder is None:
        pytest.skip(f"full MNIST not found: set {MNIST_ENV} to a folder with the four IDX files")
    return folder


@pytest.fixture(autouse=True)
def _isolated_qsettings(tmp_path_factory):
    """Every test gets its own QSettings folder, never the user's (shell developer's fixture).

    PySide6 is imported only if a test has already imported it, so core-only tests stay Qt-free.
    """
    import sys

    if "PySide6.QtCore" not in sys.modules:
        yield
        return
    from PySide6.QtCore import QCoreApplication, QSettings

    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
    names = QCoreApplication.organizationName(), QCoreApplication.applicationName()
    QCoreApplication.setOrganizationName("mlp-studio-tests")
    QCoreApplication.setApplicationName("mlp-studio-tests")
    yield
    QCoreApplication.setOrganizationName(names[0])
    QCoreApplication.setApplicationName(names[1])


@pytest.fixture(autouse=True, scope="session")
def _garbage_collected_on_the_main_thread():
    """Cyclic garbage is collected here, between tests, never by whichever thread allocates:
    a test's leftover widgets collected on a background-task thread ran Qt destructors there,
    and that thread and the GUI thread deadlocked (Qt mutex against the GIL; seen in a
    clean-clone run). The app does the same with a timer (app.main.make_application)."""
    import gc

    gc.disable()
    yield
    gc.enable()


_tests_run = [0]


@pytest.fixture(autouse=True)
def _collect_after_each_test(_garbage_collected_on_the_main_thread):
    """The young generations after every test (cheap), everything after every 25th: a full
    collection after each test made the suite ~2.5x slower."""
    import gc

    yield
    _tests_run[0] += 1
    gc.collect() if _tests_run[0] % 25 == 0 else gc.collect(1)
