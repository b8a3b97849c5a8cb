"""PURER without data: three teachers trained on digit pairs {0,1}, {2,3}, {4,5}; a pool of inputs
inverted from them; 2-way 1-shot meta-test tasks on the unseen digits 6-9. Arms: fine-tuning from the
teachers' averaged weights, MAML on the inverted pool, and MAML with PURER's episode curriculum."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..harness.data import class_subset, digits
from ..harness.experiment import Arms, Experiment
from ..harness.training import cross_entropy, fit, loss_step
from . import Curriculum, episode, harden, invert, maml_step, meta_test

TEACHER_PAIRS = ((0, 1), (2, 3), (4, 5))
TEST_CLASSES = (6, 7, 8, 9)


def network() -> nn.Sequential:
    """Teachers and learner share this shape, so teachers' weights can be averaged into a learner."""
    return nn.Sequential(nn.Linear(64, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 2))


def averaged(models: list[nn.Module]) -> nn.Module:
    average = copy.deepcopy(models[0])
    for name, value in average.state_dict().items():
        if value.is_floating_point():
            value.copy_(torch.stack([m.state_dict()[name] for m in models]).mean(0))
    return average


def meta_train(
    pool_x: torch.Tensor,
    pool_y: torch.Tensor,
    iterations: int,
    rng: np.random.Generator,
    teachers: list[nn.Module] | None = None,
) -> tuple[nn.Module, int]:
    """MAML on pool episodes; with ``teachers``, PURER's curriculum hardens the pool when accuracy stalls
    and re-inverts the hardened images so they stay their teacher's class. Returns the learner and how
    many times the pool was hardened."""
    learner = network()
    optimizer = torch.optim.Adam(learner.parameters(), lr=1e-3)
    curriculum, recent, hardened = Curriculum(), [], 0
    for iteration in range(iterations):
        tasks = [episode(pool_x, pool_y, 2, 1, 10, rng) for _ in range(4)]
        recent.append(maml_step(learner, optimizer, [task for task, _, _ in tasks]))
        if teachers and (iteration + 1) % 20 == 0 and curriculum.stalled(float(np.mean(recent[-20:]))):
            task, _, query_index = tasks[0]
            pool_x = harden(learner, pool_x, task, query_index)
            hardened += 1
            for teacher_index, teacher in enumerate(teachers):  # keep each hardened image its teacher's class
                mine = [i for i in query_index if pool_y[i] // 2 == teacher_index]
                if mine:
                    pool_x[mine] = invert(teacher, pool_y[mine] % 2, steps=10, start=pool_x[mine])
    return learner, hardened


def run(seed: int, quick: bool = False) -> Arms:
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    split = digits(seed)
    torch.manual_seed(seed)
    teachers, pool_x, pool_y = [], [], []
    per_class = 10 if quick else 25
    for index, pair in enumerate(TEACHER_PAIRS):
        x, y = class_subset(split.x_train, split.y_train, pair)
        teacher = network()
        fit(teacher, loss_step(cross_entropy), [x, y], epochs=10, learning_rate=3e-3, seed=seed + index)
        teachers.append(teacher)
        labels = torch.arange(2).repeat_interleave(per_class)
        pool_x.append(invert(teacher, labels, steps=60 if quick else 150, generator=generator))
        pool_y.append(labels + 2 * index)
    pool_x, pool_y = torch.cat(pool_x), torch.cat(pool_y)
    test_x, test_y = class_subset(split.x_test, split.y_test, TEST_CLASSES)
    test_tasks = [
        episode(torch.from_numpy(test_x), torch.from_numpy(test_y), 2, 1, 15, rng)[0]
        for _ in range(40 if quick else 200)
    ]
    iterations = 60 if quick else 400
    maml, _ = meta_train(pool_x, pool_y, iterations, np.random.default_rng(seed))
    purer, hardened = meta_train(pool_x, pool_y, iterations, np.random.default_rng(seed), teachers)
    agreement = float(
        np.mean(
            [
                float((teachers[i](pool_x[pool_y // 2 == i]).argmax(1) == pool_y[pool_y // 2 == i] % 2).float().mean())
                for i in range(len(teachers))
            ]
        )
    )
    return {
        "averaged teachers": {"accuracy": meta_test(averaged(teachers), test_tasks)},
        "MAML on inverted pool": {"accuracy": meta_test(maml, test_tasks), "pool_teacher_agreement": agreement},
        "PURER": {
            "accuracy": meta_test(purer, test_tasks),
            "pool_teacher_agreement": agreement,
            "curriculum_steps": float(hardened),
        },
    }


EXPERIMENT = Experiment(
    name="purer",
    title="PURER: data-free meta-learning",
    paper="Hu et al., Architecture, Dataset and Model-Scale Agnostic Data-free Meta-Learning (PURER), CVPR 2023",
    claim="meta-learning from pre-trained models without their data beats baselines such as averaging the models",
    expectation="2-way 1-shot accuracy on unseen digits 6-9 is higher after MAML on the pool inverted from three "
    "pair teachers with the episode curriculum than after fine-tuning the teachers' average",
    baseline="averaged teachers",
    method="PURER",
    metric="accuracy",
    higher_is_better=True,
    run=run,
)
