import numpy as np
import pytest

from sole.models.base import Clip, Step, reason
from sole.models.checked import Checked, Ledger
from sole.models.registry import load_reasoner, spec_for_task

START = ("<think>t=1: the gripper moved 1 cm closer to the puck; the puck has not advanced; it is still approaching "
         "the puck; still to do: get to the puck (19 cm) and move it 20 cm. So the progress is 2%.</think>"
         "<answer>2%</answer>")
STILL = ("<think>t=9: the gripper kept its distance to the puck; the puck has not advanced; the puck is being moved; "
         "the puck still has 8 cm to go. So the progress is 94%.</think><answer>94%</answer>")
PUSHED = ("<think>t=9: the gripper moved 1 cm closer to the puck; the puck moved 5 cm toward the goal; the puck is "
          "being moved; remaining: 15 cm to the goal. Progress: 60%.</think><answer>60%</answer>")
SLIPPED = ("<think>t=9: the gripper kept its distance to the puck; the puck slipped 5 cm back from the goal; the puck "
           "is being moved; remaining: 20 cm to the goal. Progress: 40%.</think><answer>40%</answer>")


def test_ledger_reads_the_start_template_and_stated_moves():
    ledger = Ledger().read(START)
    assert (ledger.phases, ledger.start, ledger.moved) == ("push", 20.0, 0.0)
    assert ledger.bound() == pytest.approx(0.3)  # nothing moved: only the approach share
    assert ledger.read(PUSHED).bound() == pytest.approx(0.3 + 0.7 * 5 / 20)
    assert ledger.read(PUSHED).read(SLIPPED).moved == 0.0
    for _ in range(4):
        ledger = ledger.read(PUSHED)
    assert ledger.bound() == pytest.approx(1.0)  # moved through the whole stated distance
    assert ledger.read(PUSHED).bound() == pytest.approx(1.0)  # never above 1


def test_ledger_of_a_reach_task_counts_the_hand_and_of_a_pick_task_its_weights():
    reach = Ledger().read("<think>t=1: the hand got 2 cm nearer the goal; the hand is still heading for the goal; "
                          "remaining: 10 cm to the goal. Progress: 10%.</think><answer>10%</answer>")
    assert (reach.phases, reach.start, reach.moved, reach.bound()) == ("reach", 10.0, 2.0, pytest.approx(0.2))
    assert Ledger().read(PUSHED).phases == "push"  # "remaining: 15 cm to the goal" of a push task
    pick = Ledger().read("<think>t=1: the hand is no nearer the block; remaining: grasp the block, 9 cm away, then "
                         "carry it 30 cm. Progress: 0%.</think><answer>0%</answer>")
    assert (pick.phases, pick.start, pick.bound()) == ("pick", 30.0, pytest.approx(0.35))


def test_an_unreadable_completion_earns_only_the_approach_share():
    assert Ledger().read("no reasoning at all").bound() == pytest.approx(0.3)


class Scripted:
    """Answers the text assigned to the current frame's pixel value."""

    views = ("external",)

    def __init__(self, texts: dict[int, str]):
        self.texts = texts
        self.calls: list[bool] = []

    def judge(self, queries, *, think=True):
        self.calls.append(think)
        out = []
        for q in queries:
            text = self.texts[int(q.current["external"][0, 0, 0])]
            out.append(Step(progress=int(text.split("<answer>")[1].split("%")[0]) / 100, text=text))
        return out


def _clip(values: list[int]) -> Clip:
    return Clip({"external": np.stack([np.full((4, 4, 3), v, np.uint8) for v in values])})


def test_checked_caps_a_look_away_and_pays_stated_motion_across_a_streamed_episode():
    inner = Scripted({1: START, 2: STILL, 3: PUSHED, 4: PUSHED, 5: STILL})
    look_away, pushed = reason(Checked(inner), [_clip([0, 1, 2, 2]), _clip([0, 1, 3, 4])], ["push", "push"],
                               think=False)
    assert [s.progress for _, s in look_away.steps] == pytest.approx([0.02, 0.3, 0.3])
    assert [s.progress for _, s in pushed.steps] == pytest.approx([0.02, 0.3 + 0.7 * 0.25, 0.6])
    assert set(inner.calls) == {True}  # the check reads the reasoning even when the caller asks for none


def test_episodes_sharing_a_first_frame_keep_their_own_ledgers():
    checked = Checked(Scripted({1: START, 2: STILL, 3: PUSHED}))
    moved, still = reason(checked, [_clip([0, 1, 3, 3]), _clip([0, 1, 2, 2])], ["push", "push"])
    assert moved.steps[-1][1].progress == pytest.approx(0.6)
    assert still.steps[-1][1].progress == pytest.approx(0.3)
    again = reason(checked, [_clip([0, 1, 2, 2])], ["push"])[0]  # a new episode starts a new ledger
    assert again.steps[-1][1].progress == pytest.approx(0.3)


def test_checked_spec_names_the_held_out_model_and_needs_a_reasoner(tiny_checkpoint):
    assert spec_for_task("checked:held-out", "push") == "checked:compact:held-out-b"
    assert load_reasoner(f"checked:{tiny_checkpoint}").views == ("external", "wrist")
    with pytest.raises(ValueError, match="needs the reasoner it wraps"):
        load_reasoner("checked")
