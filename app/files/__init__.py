"""File menu jobs: sessions (new/open/save/recent/recovery), model import/export, saving."""
