import dataclasses
import json

import numpy as np
import pytest
import torch

from sole.models.compact import CompactConfig, CompactModel, new_goal_vocab
from sole.models.tokenizer import WordTokenizer
from sole.train.grpo import (
    DECODER,
    GRPOConfig,
    group_advantages,
    policy_loss,
    rewards,
    state,
    token_logprobs,
    train,
    trainable,
)
from sole.train.grpo import main as grpo_main
from sole.train.samples import SampleConfig, Sampler, completion, split_episodes, to_inputs
from sole.train.sft import SFTConfig
from sole.train.sft import train as sft_train


def test_group_advantages_are_normalised_per_group():
    adv = group_advantages(np.array([1.0, 2.0, 3.0, 5.0, 5.0, 5.0]), 3)
    assert torch.allclose(adv.view(2, 3).mean(1), torch.zeros(2), atol=1e-6)
    assert torch.all(adv[3:] == 0) and adv[2] > adv[0]


def test_rewards_prefer_the_true_completion(task_set, episodes):
    cfg = GRPOConfig()
    ex = Sampler(episodes, task_set, SampleConfig(), seed=0).batch(4)
    good = [completion(episodes[e.episode], e, np.random.default_rng(0)) for e in ex]
    bad = [t.replace("<answer>", "<answer>-").replace("</think>", "") for t in good]
    r_good, r_bad = rewards(cfg, good, ex, episodes), rewards(cfg, bad, ex, episodes)
    assert np.all(r_good["format"] == 1) and np.all(r_bad["format"] == 0)
    assert np.all(r_good["total"] > r_bad["total"])


def test_policy_loss_pushes_up_positive_advantage():
    logp = torch.zeros(2, 3, requires_grad=True)
    mask = torch.ones(2, 3, dtype=torch.bool)
    loss, stats = policy_loss(GRPOConfig(kl=0.0), logp, logp.detach(), logp.detach(), mask, torch.tensor([1.0, -1.0]))
    loss.backward()
    assert torch.all(logp.grad[0] < 0) and torch.all(logp.grad[1] > 0) and stats["kl"] == 0


@pytest.mark.parametrize("update", ["decoder", "all"])
def test_tiny_grpo_end_to_end(task_set, episodes, validate, tmp_path, update):
    split = split_episodes(episodes, 3)
    init = sft_train(SFTConfig.tiny(out=str(tmp_path / "sft")), task_set, *split, validate=validate)
    cfg = dataclasses.replace(GRPOConfig.tiny(init=str(init), out=str(tmp_path / "grpo")), update=update)
    out = train(cfg, task_set, *split, validate=validate)
    assert set(out) == {"sft", "grpo"} and {"think/cot_fact_acc", "sampled/think/mae"} <= set(out["grpo"])
    rows = [json.loads(line) for line in (tmp_path / "grpo" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and "reward/accuracy" in rows[0]
    assert (tmp_path / "grpo" / "final" / "model.safetensors").is_file()


def test_update_all_sends_the_policy_gradient_into_h(task_set, episodes):
    ex = Sampler(episodes, task_set, SampleConfig(), seed=0).batch(2)
    tok = WordTokenizer.fit(["<think>t=1: the drawer moved.</think><answer>5%</answer>"])
    model = CompactModel.build(CompactConfig.tiny(), tok, new_goal_vocab([e.goal for e in ex]))
    inputs = to_inputs(episodes, ex, model.cfg.views)
    ids = model.generate(state(model, inputs, 3).detach(), temperature=1.0)
    token_logprobs(model, state(model, inputs, 3), ids)[0].sum().backward()
    assert model.views["external"].proj.weight.grad.abs().sum() > 0  # the encoder gets the gradient
    names = [n for n, _ in model.named_parameters()]
    decoder_only, everything = GRPOConfig(), GRPOConfig(update="all")
    assert {n for n in names if trainable(decoder_only, n)} == {n for n in names if n.startswith(DECODER)}
    assert not trainable(decoder_only, "head.weight") and all(trainable(everything, n) for n in names)


def test_derived_goals_refused(validate, tmp_path):
    cfg = GRPOConfig.tiny(init=str(tmp_path / "none"), out=str(tmp_path / "grpo"))
    cfg = dataclasses.replace(cfg, sample=dataclasses.replace(cfg.sample, p_derived=0.2))
    with pytest.raises(ValueError, match="p_derived must be 0"):
        grpo_main(cfg, validate)
    assert not (tmp_path / "grpo").exists()
