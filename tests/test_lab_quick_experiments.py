"""Every lab experiment's quick run (seed 0): exactly the expected arms, and each method's bounds on its
metrics and relations between its arms. The table must name exactly the experiments the lab finds, so
a new experiment without expectations fails here. The pieces of each method are tested against hand
computations in its own test_lab_<name>.py."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from facechain.lab import all_experiments
from facechain.lab.harness.experiment import Arms


@dataclass(frozen=True)
class Expected:
    arms: frozenset[str]  # the exact arm names
    check: Callable[[Arms], None]  # the bounds and relations on the arms' metrics


EXPECTED: dict[str, Expected] = {}


def expect(name: str, arms: set[str]):
    """Registers the decorated function as the checks of experiment ``name`` with exactly these arms."""

    def register(check: Callable[[Arms], None]) -> Callable[[Arms], None]:
        assert name not in EXPECTED, f"expectations for {name!r} given twice"
        EXPECTED[name] = Expected(frozenset(arms), check)
        return check

    return register


@expect("a2mim", {"untrained", "SimMIM", "A2MIM"})
def _a2mim(arms: Arms) -> None:
    for name in ("SimMIM", "A2MIM"):
        assert set(arms[name]) == {"probe_accuracy", "finetune_accuracy", "masked_l1", "high_freq_error"}
        assert all(math.isfinite(v) for v in arms[name].values())
        assert 0.3 < arms[name]["probe_accuracy"] <= 1


@expect("bicro", {"plain hinge", "mixture split", "BiCro", "clean pairs only"})
def _bicro(arms: Arms) -> None:
    assert all(0.1 < arm["r1_same_digit"] <= 1 for arm in arms.values())
    assert arms["BiCro"]["noise_auroc"] > 0.6  # its soft labels put shuffled pairs below matched ones


@expect("cvsa", {"contrastive", "swap view only", "CVSA"})
def _cvsa(arms: Arms) -> None:
    for values in arms.values():
        assert set(values) == {"test_accuracy", "background_decodability"}
        assert all(math.isfinite(v) and 0 <= v <= 1 for v in values.values())
        assert values["test_accuracy"] > 0.3


@expect("dal", {"CE", "GCE", "DAL"})
def _dal(arms: Arms) -> None:
    assert all(0.5 < arm["accuracy@40%"] <= 1 and 0.3 < arm["accuracy@60%"] <= 1 for arm in arms.values())


@expect("dash", {"labels only", "FixMatch", "Dash"})
def _dash(arms: Arms) -> None:
    assert all(0.5 < arm["accuracy"] <= 1 for arm in arms.values())
    assert arms["Dash"]["mask_rate"] > arms["FixMatch"]["mask_rate"]  # a high early threshold keeps more
    assert arms["FixMatch"]["pseudo_precision"] > 0.9


@expect("dlme", {"kernel baseline", "DLME", "t-SNE"})
def _dlme(arms: Arms) -> None:
    for scores in arms.values():
        assert set(scores) == {"svc_accuracy", "knn10_accuracy", "trustworthiness"}
        assert all(np.isfinite(v) for v in scores.values())
        assert scores["svc_accuracy"] > 0.5 and scores["knn10_accuracy"] > 0.5  # ten classes: chance is 0.1
        assert 0.5 < scores["trustworthiness"] <= 1


@expect("doe", {"MSP", "OE", "DOE"})
def _doe(arms: Arms) -> None:
    assert all(arm["id_accuracy"] > 0.9 and 0.5 < arm["ood_auroc"] <= 1 for arm in arms.values())
    assert arms["OE"]["fpr@95tpr"] < arms["MSP"]["fpr@95tpr"]  # exposure to 5-6 helps on unseen 7-9


@expect("evnet", {"kernel baseline", "EVNet", "t-SNE"})
def _evnet(arms: Arms) -> None:
    for scores in arms.values():
        assert all(np.isfinite(v) for v in scores.values())
        assert scores["svc_accuracy"] > 0.5 and scores["knn10_accuracy"] > 0.5  # ten classes: chance is 0.1
    evnet = arms["EVNet"]
    # the deletion test on the trained map: the explanation is real, a cluster's 8 most salient pixels
    # move it more than 8 random non-blank pixels
    assert evnet["deletion_salient"] > 1.5 * evnet["deletion_random"]
    assert evnet["deletion_ratio"] == pytest.approx(evnet["deletion_salient"] / evnet["deletion_random"])


@expect("fairness", {"CE", "CE+FR", "LA", "LA+FR"})
def _fairness(arms: Arms) -> None:
    assert all(0.2 < arm["tail_accuracy"] <= 1 and 0.5 < arm["head_accuracy"] <= 1 for arm in arms.values())
    assert arms["CE"]["head_accuracy"] > arms["CE"]["tail_accuracy"]  # the long tail hurts the tail


@expect("gslm", {"CAM", "specific head (no reactivation)", "GSLM"})
def _gslm(arms: Arms) -> None:
    assert all(0.3 < arm["mIoU"] <= 1 for arm in arms.values())  # four labels: a blank mask scores about 0.2


@expect("infogrowth", {"random subset", "cleaning only", "InfoGrowth"})
def _infogrowth(arms: Arms) -> None:
    assert arms["InfoGrowth"]["duplicate_share"] < arms["cleaning only"]["duplicate_share"]
    assert arms["InfoGrowth"]["mismatched_share"] < 0.5 * arms["random subset"]["mismatched_share"]
    assert arms["InfoGrowth"]["accuracy"] > arms["random subset"]["accuracy"] > 0.5


@expect("purer", {"averaged teachers", "MAML on inverted pool", "PURER"})
def _purer(arms: Arms) -> None:
    assert all(0.6 < arm["accuracy"] <= 1 for arm in arms.values())  # 2-way: chance is 0.5
    assert arms["PURER"]["pool_teacher_agreement"] > 0.95


@expect("rts", {"CE", "RTS"})
def _rts(arms: Arms) -> None:
    assert set(arms["RTS"]) >= {"ood_auroc", "scaled_ood_auroc", "v_sign", "v_ood_auroc"}
    assert all(np.isfinite(value) for arm in arms.values() for value in arm.values())
    assert all(arm["id_accuracy"] > 0.6 and arm["ood_auroc"] > 0.7 for arm in arms.values())
    assert arms["RTS"]["v_sign"] in (-1.0, 1.0)


@expect("san", {"OVANet", "SAN", "SAN, no target entropy"})
def _san(arms: Arms) -> None:
    for arm in arms.values():
        assert 0 <= arm["h_score"] <= 1 and 0 <= arm["unknown_recall"] <= 1
        assert arm["known_accuracy"] > 0.3  # the milder shift leaves the known digits recognisable


@expect("sfat", {"FedAvg-AT", "SFAT"})
def _sfat(arms: Arms) -> None:
    for arm in arms.values():
        assert 0.1 < arm["natural_accuracy"] <= 1 and 0 <= arm["robust_accuracy"] <= arm["natural_accuracy"]


@expect("sharpdro", {"ERM", "SAM", "GroupDRO", "SharpDRO"})
def _sharpdro(arms: Arms) -> None:
    for arm in arms.values():
        assert arm["worst_accuracy"] == min(v for k, v in arm.items() if "@" in k)
    for name in ("ERM", "GroupDRO", "SharpDRO"):  # SAM's large radius needs the full run to get going
        assert arms[name]["accuracy@inf"] > 0.75 > arms[name]["accuracy@0.5"]  # fewer photons, harder


@expect("unicom", {"full softmax", "partial classes", "partial dims", "Unicom"})
def _unicom(arms: Arms) -> None:
    assert all(0.7 < arm["r1@32"] <= 1 and 0.6 < arm["r1@8"] <= 1 for arm in arms.values())


def test_expectations_cover_exactly_the_lab_experiments():
    assert set(EXPECTED) == set(all_experiments())


@pytest.mark.parametrize("name", list(all_experiments()))
def test_quick_experiment(name):
    assert name in EXPECTED, f"no expectations for the experiment {name!r}: add them to EXPECTED"
    arms = all_experiments()[name].run(0, True)
    assert set(arms) == EXPECTED[name].arms
    EXPECTED[name].check(arms)
