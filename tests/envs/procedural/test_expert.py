import numpy as np

from sole.envs.procedural.expert import CLOSED, OPEN, approach, move, push_along


def test_move_is_clipped_and_carries_the_gripper_command():
    a = move(np.zeros(3), np.array([1.0, -0.01, 0.0]), OPEN)
    assert np.allclose(a, [1.0, -0.1, 0.0, OPEN])


def test_approach_rises_then_travels_over_then_descends():
    low, point = np.array([0.0, 0.5, 0.02]), np.array([0.2, 0.7, 0.02])
    assert approach(low, point, OPEN)[2] > 0  # rises first: never sweeps the table
    high = np.array([0.0, 0.5, 0.2])
    assert np.all(approach(high, point, OPEN)[:2] > 0)  # travels over
    above = np.array([0.2, 0.7, 0.2])
    assert approach(above, point, OPEN)[2] < 0  # descends
    assert approach(point + 0.01, point, OPEN) is None  # there


def test_push_along_pushes_once_behind_the_part():
    part, direction = np.array([0.0, 0.7, 0.02]), np.array([0.0, 1.0, 0.0])
    behind = part - direction * 0.05
    a = push_along(behind, part, direction, 0.05)
    assert a[1] > 0 and a[3] == CLOSED
    ahead = part + direction * 0.05 + np.array([0.0, 0.0, 0.1])
    assert push_along(ahead, part, direction, 0.05)[1] < 0  # goes round to the back first
