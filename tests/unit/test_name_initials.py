"""Pinyin initials of organization names (the console's search by '城关镇党委' → 'cgzdw'), as the import stores them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from services.search import name_initials

ROOT = Path(__file__).resolve().parents[2]


def test_one_letter_per_chinese_character_ascii_letters_and_digits_kept() -> None:
    assert name_initials("城关镇党委") == "cgzdw"
    assert name_initials("马口镇A1村") == "mkza1c"
    assert name_initials("第12村（居）委会") == "d12cjwh"  # punctuation dropped
    assert name_initials("") == ""
    assert len(name_initials("城" * 300)) == 200  # the column's width


def test_the_phrase_dictionary_is_not_loaded_and_the_environment_is_left_as_it_was() -> None:
    """One character at a time needs pypinyin's single-character dictionary only (~45 MB less at import)."""
    code = (
        "import os, sys; from services.search import name_initials; print(name_initials('城关镇党委'));"
        "print('pypinyin.phrases_dict' in sys.modules, os.environ.get('PYPINYIN_NO_PHRASES'))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYPINYIN_")} | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    assert out.stdout.split() == ["cgzdw", "False", "None"]
