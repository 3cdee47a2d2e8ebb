import numpy as np
import pytest

from sole.eval.metrics import voc
from sole.models.base import Clip, parse_answer, reason
from sole.models.registry import load_reasoner


def test_const_answers_its_value_and_reads_voc_zero():
    reader = load_reasoner("const:0.4")
    judged = reason(reader, [Clip({"external": np.zeros((30, 8, 8, 3), np.uint8)})], ["open the door"], stride=3)[0]
    assert {s.progress for _, s in judged.steps} == {0.4}
    assert parse_answer(judged.steps[0][1].text, 0.0) == 0.4
    assert voc(judged.answers()) == 0.0


@pytest.mark.parametrize("spec", ["const", "const:high", "const:2"])
def test_const_needs_a_value_in_range(spec):
    with pytest.raises(ValueError, match=r"const: .*\[-1, 1\]"):
        load_reasoner(spec)
