def test_step_facts_name_the_task_and_the_played_time(dataset):
    ep = dataset[1][0]
    assert ep.step_facts(3) == {**ep.facts[3], "task": ep.task, "t": 3}
    played = ep.step_facts(3, t=1)  # frame 3 shown at time 1, as in a reversed sample
    assert played["t"] == 1 and played["hand"] == ep.facts[3]["hand"]
    assert ep.facts[3]["t"] == 3  # the stored facts are not touched
