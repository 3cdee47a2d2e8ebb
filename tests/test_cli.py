from sole.cli import TasksConfig, tasks_main


def test_sole_tasks_lists_meta_world_or_generated_tasks(capsys):
    assert len(tasks_main(TasksConfig(fold="a"))) == 25
    assert tasks_main(TasksConfig(procedural=2)) == ["proc:0", "proc:1"]
    out = capsys.readouterr().out
    assert "slide" in out and "stack" in out and "opposite:" in out
