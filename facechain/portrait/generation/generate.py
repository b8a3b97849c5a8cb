"""Styled portraits of a trained digital twin, ranked by identity similarity.

The trained model folder says who (trigger, class phrase, reference face) and on what base model;
a style preset says how (the prompt pair: ``prompts``). Image i uses seed
``seed + i``, so any single portrait can be reproduced on its own. Every image is then judged by the
face engine (``ranking``) and the results come back best first with score, flag, seed and prompt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from pipelines.schedulers import PORTRAIT_SOLVERS
from pipelines.siblings import sibling_pipeline

from ...atomic import staged_file, staged_folder
from ...config import Settings
from ...diffusion.base_model import resolve_base_model
from ...diffusion.families import FAMILIES, check_lora_family, folder_family, pipeline_family
from ...diffusion.placement import placed_pipeline
from ...diffusion.tiny import TINY_NOTICE
from ...faces import FaceAnalyzer, load_analyzer
from ...model_loading import model_loading
from ...progress import Progress
from ..model_folder import TrainedModel
from .control import Control, control_image, control_image_name, fitted, load_controlnet
from .detail import DetailSettings, FaceDetailer, FaceRecord
from .likeness import LikenessScale, boundary_cosine, likeness_scale
from .lora_files import find_lora
from .prompts import build_prompts
from .ranking import Judgement, judge_portrait, photo_embeddings, rank_order, reference_embedding
from .request import GenerationError, GenerationRequest, chosen_faces, image_to_image_steps
from .styles import Style, load_styles
from .templates import checked_template_plan, template_image

log = logging.getLogger(__name__)


@dataclass
class Portrait:
    image: Image.Image
    seed: int
    score: float | None
    flag: str | None
    quality: float | None = None  # RTS reliability of the face, see faces/quality_score.py
    likeness: float | None = None  # percent of the person's own consistency (generation.likeness)
    faces: list[FaceRecord] | None = None  # what the face detail pass found and refined (None: pass off)


@dataclass
class Generation:
    portraits: list[Portrait]
    prompt: str
    negative_prompt: str
    style: str
    base_model: str
    notice: str | None
    reference: Path
    settings: dict = field(default_factory=dict)
    model: TrainedModel | None = None  # whose portraits: the likeness scale comes from its photos
    likeness_photos: int | None = None  # how many of the person's photos set the likeness scale
    own_consistency: float | None = None  # their median leave-one-out cosine

    @property
    def all_flagged(self) -> bool:
        return all(p.flag for p in self.portraits)


class PipelineCache:
    """One loaded base model at a time, shared by requests (the app serves many); a lock makes
    requests on it take turns, since adapters and scheduler are pipeline state."""

    def __init__(self):
        self.lock = threading.Lock()
        self.key: Path | None = None
        self.pipe = None
        self.controlnet_key: tuple[Path, str] | None = None
        self.controlnet = None

    def get(self, model_dir: Path):
        import pipelines

        if self.key != model_dir:
            log.info("loading the base model %s", model_dir)
            pipeline = getattr(pipelines, folder_family(model_dir).portrait_pipeline)
            with model_loading():
                self.pipe = placed_pipeline(pipeline, model_dir, **WITHOUT_SAFETY_CHECKER.get(pipeline.__name__, {}))
            self.pipe.set_progress_bar_config(disable=True)
            self.key = model_dir
        return self.pipe

    def get_controlnet(self, source: str):
        """The ControlNet ``source`` names, checked against the loaded base model (one kept at a time, and
        checked again when the base model changes)."""
        if self.controlnet_key != (self.key, source):
            self.controlnet, self.controlnet_key = None, None  # the old one is freed before the new one loads
            family = pipeline_family(self.pipe)
            controlnet = load_controlnet(source, family, getattr(self.pipe, family.architecture.denoiser_name))
            self.controlnet = controlnet.to(self.pipe.device, self.pipe.dtype)
            self.controlnet_key = (self.key, source)
        return self.controlnet


WITHOUT_SAFETY_CHECKER = {"PortraitPipeline": {"safety_checker": None, "requires_safety_checker": False}}
"""SD 1.x loads without its safety checker, as it always has here (a separate model that local folders
often lack); the other families' pipelines have none."""

DEFAULT_CACHE = PipelineCache()


def adapter_name(kind: str, path: Path) -> str:
    """One adapter name per LoRA file and version (PEFT names may not contain dots)."""
    identity = f"{path.resolve()}:{path.stat().st_mtime_ns}".encode()
    return f"{kind}-{hashlib.sha1(identity).hexdigest()[:12]}"


def loaded_adapters(pipe) -> set[str]:
    """Every adapter name loaded into any component of ``pipe``."""
    return {name for names in pipe.get_list_adapters().values() for name in names}


def load_adapter(pipe, kind: str, lora: Path) -> str:
    """Load the LoRA file ``lora`` into ``pipe`` unless this version of it is there already; its name."""
    name = adapter_name(kind, lora)
    if name not in loaded_adapters(pipe):
        log.info("loading the %s LoRA %s as adapter %s", kind, lora, name)
        pipe.load_lora_weights(lora, adapter_name=name)
    return name


def configure(pipe, model: TrainedModel, style: Style, request: GenerationRequest) -> None:
    """Load what is missing, then use exactly this request's adapters with its weights and its solver;
    other people's adapters are dropped, style adapters stay loaded for the next request."""
    family = pipeline_family(pipe)
    if style.families and family.name not in style.families:
        suits = " and ".join(FAMILIES[name].title for name in style.families)
        raise GenerationError(
            f"the style {style.name} suits {suits} models and this model is {family.title}: "
            "choose another style (facechain styles lists them with their families)"
        )
    person = load_adapter(pipe, "person", model.lora)
    weights = {person: request.person_weight if request.person_weight is not None else style.person_weight}
    style_source = request.style_lora or style.lora
    if style_source:
        style_file = find_lora(style_source, None if request.style_lora else style.lora_file)
        check_lora_family(style_file, family, "the style LoRA")
        weights[load_adapter(pipe, "style", style_file)] = (
            request.style_weight if request.style_weight is not None else style.style_weight
        )
    if request.scheduler == "lcm":
        if not request.lcm_lora:
            raise GenerationError(
                "the lcm scheduler needs an LCM-LoRA: pass --lcm-lora (a path or a hub id such as "
                "latent-consistency/lcm-lora-sdv1-5)"
            )
        lcm_file = find_lora(request.lcm_lora)
        check_lora_family(lcm_file, family, "the LCM-LoRA")
        weights[load_adapter(pipe, "lcm", lcm_file)] = 1.0
    stale = [name for name in loaded_adapters(pipe) if name.startswith("person-") and name not in weights]
    if stale:
        pipe.delete_adapters(stale)
    pipe.set_adapters(list(weights), list(weights.values()))
    pipe.scheduler = PORTRAIT_SOLVERS[request.scheduler].build(pipe.scheduler.config)


def sampling_progress(progress: Progress | None, done: int, batch: int, steps: int, count: int, after: int = 0):
    """diffusers' ``callback_on_step_end`` reporting ``progress(sampling steps done, steps of all images +
    after)``, so a long image moves the bar and a cancel (a progress call that raises) stops it within one
    step; ``after``: the steps expected after sampling (the detail pass), so the bar does not fill early."""
    if progress is None:
        return None

    def on_step_end(pipe, step: int, timestep, tensors: dict) -> dict:
        progress(done * steps + (step + 1) * batch, count * steps + after, f"image {done + batch}/{count}")
        return tensors

    return on_step_end


def render(
    request: GenerationRequest,
    settings: Settings | None = None,
    progress: Progress | None = None,
    cache: PipelineCache = DEFAULT_CACHE,
    analyzer: FaceAnalyzer | None = None,
) -> Generation:
    """Sample ``request.count`` portraits in seed order, or in template mode take the template photo
    ``count`` times; with ``analyzer`` and ``request.detail``, each one's chosen faces then get the face
    detail pass. Not yet judged."""
    settings = settings or Settings.from_env()
    if request.template and analyzer is None:
        raise ValueError("template mode puts the face where the face engine finds one: pass an analyzer")
    model = TrainedModel.open(Path(request.model))
    find_lora(model.lora)  # a damaged LoRA is refused before the base model loads
    style = load_styles(settings).get(request.style)
    template = template_image(request.template) if request.template else None
    control_source = control_image(request, template)
    base_dir = resolve_base_model(model.base_model, settings, tiny=model.tiny and not Path(model.base_model).exists())
    request = request.for_family(folder_family(base_dir))
    positive, negative = build_prompts(model.trigger, model.class_prompt, style, request)
    steps, guidance = request.sampling
    resolution = request.resolution or model.resolution
    seed = request.seed if request.seed is not None else random.randrange(2**31)
    seeds = list(range(seed, seed + request.count))
    faces, notes = None, []
    with cache.lock:
        pipe = cache.get(base_dir)
        configure(pipe, model, style, request)
        control = None
        if control_source is not None:
            control = Control(
                cache.get_controlnet(request.controlnet),
                control_source,
                request.control_scale,
                request.control_start,
                request.control_end,
            )
        if template is None:
            after = expected_detail_steps(request, len(seeds)) if analyzer is not None else 0
            images = sample(pipe, control, positive, negative, seeds, resolution, request, progress, notes, after)
        else:
            images = [template] * request.count
            if control is not None:
                fitted_image, note = fitted(control.image, template.size)
                notes += [note] if note else []
                control = replace(control, image=fitted_image)
        if request.detail and analyzer is not None:
            detailer = FaceDetailer(
                pipe,
                analyzer,
                positive,
                negative,
                steps,
                guidance,
                detail_settings(request),
                control=None if template is None else control,
            )
            plans = None
            if template is not None:
                plan = detailer.plan(template)
                checked_template_plan(request.template, plan)
                plans = [plan] * request.count
            sampled = 0 if template is not None else request.count * steps
            images, faces = refine_all(detailer, images, seeds, progress, sampled, plans)
    return Generation(
        [
            Portrait(image, seeds[i], None, None, faces=None if faces is None else faces[i])
            for i, image in enumerate(images)
        ],
        positive,
        negative,
        style.name,
        model.base_model,
        "; ".join(filter(None, [TINY_NOTICE if model.tiny else None, *notes])) or None,
        model.reference,
        {
            "steps": steps,
            "guidance": guidance,
            "scheduler": request.scheduler,
            "resolution": list(template.size) if template is not None else resolution,
            "seed": seed,
            "person_weight": request.person_weight,
            "style_weight": request.style_weight,
            "detail": request.detail and analyzer is not None,
            "detail_strength": request.strength,
            "detail_padding": request.detail_padding,
            "detail_faces": request.detail_faces,
            "template": request.template,
            "controlnet": request.controlnet,
            "control_type": None if request.control_image else request.control_type,
            "control_from": request.control_from,
            "control_image": request.control_image,
            "control_scale": request.control_scale,
            "control_start": request.control_start,
            "control_end": request.control_end,
        },
        model,
    )


def sample(
    pipe,
    control: Control | None,
    positive: str,
    negative: str,
    seeds: list[int],
    resolution: int,
    request: GenerationRequest,
    progress: Progress | None,
    notes: list[str],
    after: int = 0,
) -> list[Image.Image]:
    """Text-to-image of one image per seed, in batches; through the family's ControlNet pipeline (built
    on ``pipe``'s modules) when ``control`` is given. ``after``: the steps expected after sampling, for
    the progress total."""
    steps, guidance = request.sampling
    extra = {}
    if control is not None:
        pipe = sibling_pipeline(pipe, "text2image", controlnet=control.controlnet)
        image, note = fitted(control.image, (resolution, resolution))
        notes += [note] if note else []
        extra = control.arguments(image, control_image_name(pipe))
    images = []
    for start in range(0, len(seeds), request.batch_size):
        batch = seeds[start : start + request.batch_size]
        with torch.no_grad():
            images += pipe(
                [positive] * len(batch),
                negative_prompt=[negative] * len(batch),
                height=resolution,
                width=resolution,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=[torch.Generator().manual_seed(s) for s in batch],
                callback_on_step_end=sampling_progress(progress, start, len(batch), steps, len(seeds), after),
                **extra,
            ).images
    return images


def expected_detail_steps(request: GenerationRequest, count: int) -> int:
    """The detail pass's steps as expected before any face is found: one face per image unless the request
    names more (the plan then sets the true total)."""
    if not request.detail:
        return 0
    chosen = chosen_faces(request.detail_faces)
    return count * (1 if chosen is None else len(chosen)) * image_to_image_steps(request.sampling[0], request.strength)


def detail_settings(request: GenerationRequest) -> DetailSettings:
    return DetailSettings(request.strength, request.detail_padding, request.detail_faces)


def refine_all(
    detailer: FaceDetailer,
    images: list[Image.Image],
    seeds: list[int],
    progress: Progress | None,
    done: int,
    plans: list | None = None,
) -> tuple[list[Image.Image], list[list[FaceRecord]]]:
    """Every image through the detail pass (its noise from a generator seeded with the image's seed), with
    progress counted on from ``done`` sampling steps; the face records of each image. ``plans``: what
    ``detailer.plan`` found in each image, when the caller knows it already."""
    plans = plans or [detailer.plan(image) for image in images]
    planned = sum(face is not None for plan in plans for face, _ in plan)
    total = done + planned * detailer.steps_per_face
    state = {"done": done, "image": 0}

    def on_step() -> None:
        state["done"] += 1
        progress(min(state["done"], total), total, f"face detail, image {state['image']}/{len(images)}")

    refined = []
    for image, seed, plan in zip(images, seeds, plans):
        state["image"] += 1
        refined.append(detailer.refine(image, plan, torch.Generator().manual_seed(seed), on_step if progress else None))
    return refined, [[record for _, record in plan] for plan in plans]


def identity_embeddings(model: TrainedModel, analyzer: FaceAnalyzer) -> np.ndarray:
    """The person's training photos' identity embeddings (rows) as ``analyzer`` sees them: measured on the
    photos while the training set is there and kept in the model folder, per face engine, with the photos'
    names, sizes and times, so the next generation reads them back unless a photo changed (detecting
    20 photos again took most of a tiny-model generation's time); the kept copy when the training set is
    gone; none when neither exists."""
    kept = model.identity_embeddings_file(analyzer.name)
    photos = model.identity_photos
    if photos:
        seen = json.dumps([[str(photo), photo.stat().st_size, photo.stat().st_mtime_ns] for photo in photos])
        if kept.is_file() and safe_open(str(kept), "np").metadata().get("photos") == seen:
            return load_file(kept)["embeddings"]
        found = photo_embeddings(photos, analyzer).astype(np.float32)
        if len(found):
            with staged_file(kept) as staging:
                save_file({"embeddings": found}, staging, metadata={"photos": seen})
        return found
    if kept.is_file():
        return load_file(kept)["embeddings"]
    return np.zeros((0, 0), dtype=np.float32)


def person_scale(model: TrainedModel | None, analyzer: FaceAnalyzer) -> LikenessScale | None:
    """The likeness scale of the person's training photos, as ``analyzer`` sees them."""
    if model is None:
        return None
    return likeness_scale(identity_embeddings(model, analyzer), boundary_cosine(analyzer.thresholds.same_person))


def rank(generation: Generation, analyzer: FaceAnalyzer, scale: LikenessScale | None = None) -> Generation:
    """Judge every portrait against the reference face, give it its likeness percent against the
    person's own photos (``scale``, else measured on the training set when it is still there), and order
    them best first."""
    reference = reference_embedding(generation.reference, analyzer)
    judgements: list[Judgement] = [judge_portrait(p.image, reference, analyzer) for p in generation.portraits]
    scale = scale or person_scale(generation.model, analyzer)
    portraits = [
        replace(
            generation.portraits[i],
            score=judgements[i].score,
            flag=judgements[i].flag,
            quality=judgements[i].quality,
            likeness=None
            if scale is None or judgements[i].embedding is None
            else scale.percent(judgements[i].embedding),
        )
        for i in rank_order(judgements)
    ]
    return replace(
        generation,
        portraits=portraits,
        likeness_photos=scale.photos if scale else None,
        own_consistency=scale.own if scale else None,
    )


def passes(portrait: Portrait, min_likeness: float) -> bool:
    return portrait.flag is None and portrait.likeness is not None and portrait.likeness >= min_likeness


def until_alike(
    request: GenerationRequest,
    settings: Settings,
    analyzer: FaceAnalyzer,
    progress: Progress | None,
    cache: PipelineCache,
) -> Generation:
    """``--min-likeness``: sampling rounds of ``count`` portraits with new seeds (round r starts at seed
    ``seed + r * count``) until ``count`` portraits pass, or ``max_tries`` rounds; the ``count`` best are
    kept, passing ones first, and the rounds and passes are recorded."""
    scale = person_scale(TrainedModel.open(Path(request.model)), analyzer)
    if scale is None:
        raise GenerationError(
            "--min-likeness needs the person's training photos (the dataset named in the model's training.json, "
            "with at least 2 faces that the face engine calls one person), or their embeddings kept in the model "
            "folder by an earlier generation: neither is there"
        )
    seed = request.seed if request.seed is not None else random.randrange(2**31)
    best: Generation | None = None
    for tries in range(1, request.max_tries + 1):
        ranked = rank(
            render(replace(request, seed=seed + (tries - 1) * request.count), settings, progress, cache, analyzer),
            analyzer,
            scale,
        )
        pool = ranked.portraits if best is None else best.portraits + ranked.portraits
        best = replace(ranked, portraits=pool)
        passed = sum(passes(p, request.min_likeness) for p in pool)
        if passed >= request.count:
            break
    keep = sorted(best.portraits, key=lambda p: (not passes(p, request.min_likeness), -(p.likeness or -1e9)))
    kept_passing = min(passed, request.count)
    shortfall = (
        f"only {kept_passing} of {request.count} portraits reached {request.min_likeness:g}% likeness in "
        f"{tries} sampling rounds (--max-tries {request.max_tries})"
        if passed < request.count
        else None
    )
    return replace(
        best,
        portraits=keep[: request.count],
        notice="; ".join(filter(None, [best.notice, shortfall])) or None,
        settings={
            **best.settings,
            "seed": seed,
            "min_likeness": request.min_likeness,
            "tries": tries,
            "passed": passed,
        },
    )


def generate(
    request: GenerationRequest,
    settings: Settings | None = None,
    analyzer: FaceAnalyzer | None = None,
    progress: Progress | None = None,
    cache: PipelineCache = DEFAULT_CACHE,
) -> Generation:
    """Sample ``request.count`` portraits, judge each, return them best first.

    Args:
        request: the trained model folder, style, words, count and sampling settings (checked on creation).
        settings: home folder, base model and face engine (default: from the environment).
        analyzer: the face engine that judges likeness (default: the settings' one).
        progress: ``progress(sampling steps done, steps of all images, "image k/n")`` (``facechain.progress``),
            called after every sampling step of every batch.
        cache: the loaded base model shared between requests (the process-wide one by default).

    Returns:
        ``Generation``: portraits best first (score, likeness percent, flag, seed), the prompts and every
        setting used; with ``request.min_likeness``, the best of up to ``max_tries`` sampling rounds.
    """
    settings = settings or Settings.from_env()
    analyzer = analyzer or load_analyzer(settings.face_backend, settings)
    if request.min_likeness is not None:
        return until_alike(request, settings, analyzer, progress, cache)
    return rank(render(request, settings, progress, cache, analyzer), analyzer)


def check_output_folder(out: Path) -> None:
    """Refuse a folder that holds anything but an earlier generation output (it would be replaced)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "results.json").is_file())):
        raise GenerationError(f"{out} exists and is not an earlier generation output: choose another --out")


def write_generation(result: Generation, out: Path) -> Path:
    """PNGs named by rank and seed, and ``results.json`` with every score and flag; the folder is
    written whole. An existing ``out`` is replaced only if it is an earlier generation's output."""
    check_output_folder(out)
    with staged_folder(out) as staging:
        entries = []
        for place, portrait in enumerate(result.portraits):
            name = f"{place:02d}-seed{portrait.seed}.png"
            portrait.image.save(staging / name)
            entries.append(
                {
                    "file": name,
                    "rank": place,
                    "seed": portrait.seed,
                    "score": portrait.score,
                    "flag": portrait.flag,
                    "quality": portrait.quality,
                    "likeness_percent": portrait.likeness,
                    "faces": None if portrait.faces is None else [face.to_json() for face in portrait.faces],
                }
            )
        (staging / "results.json").write_text(
            json.dumps(
                {
                    "prompt": result.prompt,
                    "negative_prompt": result.negative_prompt,
                    "style": result.style,
                    "base_model": result.base_model,
                    "notice": result.notice,
                    "settings": result.settings,
                    "all_flagged": result.all_flagged,
                    "likeness_scale": {"photos": result.likeness_photos, "own_consistency": result.own_consistency}
                    if result.likeness_photos
                    else None,
                    "portraits": entries,
                },
                indent=2,
            )
        )
    return out
