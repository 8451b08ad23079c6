"""The build step setup.cfg cannot say: what the wheel carries beyond package data.

- appliance/translations: every area's .po merged and compiled into one messages.mo
  per language, so an installed appliance never compiles at start (appliance/l10n.py,
  loaded here by path: it needs Babel, not Flask or the rest of the package);
- provisioning/systemd: the unit files of systemd/, which the image build installs
  from the wheel it puts on the card.
"""

import importlib.util
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
UNIT_SUFFIXES = (".service", ".timer", ".path")


def _l10n():
    spec = importlib.util.spec_from_file_location("thuvien_l10n", HERE / "appliance/l10n.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BuildWithRuntimeFiles(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):  # an editable checkout compiles its .po at start instead
            return
        target = Path(self.build_lib)
        _l10n().compile_into(HERE / "appliance/translations", target / "appliance/translations")
        units = target / "provisioning/systemd"
        units.mkdir(parents=True, exist_ok=True)
        for unit in sorted((HERE / "systemd").iterdir()):
            if unit.suffix in UNIT_SUFFIXES:
                shutil.copy2(unit, units / unit.name)


setup(cmdclass={"build_py": BuildWithRuntimeFiles})
