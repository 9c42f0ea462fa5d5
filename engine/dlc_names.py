"""DeepLabCut's keyword arguments, accepted by posekit's workflow verbs.

A DeepLabCut script calls ``deeplabcut.train_network(config, maxiters=50000,
gputouse=0)``; with ``import posekit.engine as deeplabcut`` the same line should run.
:func:`dlc_keywords` wraps a verb so that DeepLabCut's names are

- **renamed** to posekit's (``config=`` and ``cfg_path=``, DeepLabCut's names of
  the project argument, → the verb's first argument; ``maxiters`` →
  ``max_iterations``, ``plotting`` → ``plot``, ``trailpoints`` → ``trail_length``,
  ...), with the value converted where the two differ (``Shuffles=[1]`` →
  ``shuffle=1``, ``epsilon`` → the ``jump`` and ``fitting`` thresholds);
- **accepted and ignored**, with one log line, when they only concern DeepLabCut's
  hardware or interface (``gputouse``, DeepLabCut 3's ``device``, ``allow_growth``,
  ``displayiters``, ``automatic``: posekit runs on what TensorFlow finds, reports
  progress itself and never asks; ``videotype`` where a verb takes no videos) or its
  choice of augmentation library (``augmenter_type``: posekit has one pipeline);
- **accepted with the value that changes nothing, refused with advice otherwise**
  (:func:`refused`: ``save_frames=False`` is DeepLabCut's default and what posekit
  does; ``True`` asks for images posekit does not write);
- **passed on** when the verb takes the name itself (``videotype`` of the verbs that
  take videos or folders of videos: only videos of that extension);
- **pointed elsewhere** when posekit takes the setting in another verb
  (:func:`elsewhere`: an error that says where).

The log line of a keyword accepted and ignored names the verb, the keyword and its
value (``create_labeled_video: DeepLabCut's save_frames=False changes nothing here;
ignored``).

Two of DeepLabCut's keywords are accepted by every wrapped verb:

- ``trainingsetindex``: which ``TrainingFraction`` (the project argument becomes
  :meth:`~posekit.engine.project.Project.for_training_set`). ``"all"`` runs the verb
  once per fraction where DeepLabCut does (``evaluate_network``: the verb is
  decorated with ``dlc_keywords(all_training_sets=...)``, which combines the
  results); the other verbs refuse it with the loop to write instead.
- ``Shuffles`` with several numbers (``Shuffles=[1, 2]``): where DeepLabCut runs
  the verb once per shuffle (``evaluate_network``: ``dlc_keywords(each_shuffle=...)``
  and :func:`shuffle_numbers`), so does the wrapper, in the order given, each
  shuffle over the fractions ``trainingsetindex`` names (DeepLabCut's loops:
  shuffles outside, fractions inside), and combines the results; the verbs that
  take one shuffle (:func:`one_shuffle`) refuse several.
- ``engine`` (DeepLabCut 3: :class:`Engine`, ``"pytorch"``, ``"tensorflow"`` or
  their aliases): posekit has one engine, its own Keras network on TensorFlow, and
  writes DeepLabCut's files either way. ``Engine.TF`` is accepted silently;
  ``Engine.PYTORCH`` is accepted with one log line per process that says so (a
  DeepLabCut 3 script passes it everywhere; refusing it would stop every such
  script at its first call, while what posekit does is the same for both values);
  another value is a ``TypeError`` that lists the accepted ones.

A DeepLabCut name that would change the result and has no posekit counterpart is not
listed, so Python's own ``TypeError`` names it; so does a name given twice (DLC's and
posekit's).
"""

from __future__ import annotations

import contextvars
import enum
import functools
import inspect
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from . import logger

__all__ = [
    "IGNORED",
    "Engine",
    "dlc_keywords",
    "elsewhere",
    "note_config_engine",
    "note_pytorch_engine",
    "one_shuffle",
    "renamed",
    "shuffle_numbers",
    "thresholds",
]

F = TypeVar("F", bound=Callable[..., Any])

#: DeepLabCut's names of the project argument (``config``; ``cfg_path`` in
#: ``export_model``), given by keyword.
PROJECT_NAMES = ("config", "cfg_path")

#: Converts DeepLabCut's value into posekit's keyword arguments.
Converter = Callable[[Any], dict[str, Any]]

#: DeepLabCut keywords about its hardware, interface or file bookkeeping: accepted by
#: every wrapped verb and ignored (one log line each).
IGNORED = frozenset(
    {
        "gputouse",
        "device",
        "allow_growth",
        "autotune",
        "displayiters",
        "TFGPUinference",
        "in_random_order",
        "use_shelve",
        "userfeedback",
        "windows2linux",
        "automatic",
        "videotype",
        "fastmode",
        "opencv",
        "modelprefix",
        "max_snapshots_to_keep",
        "keepdeconvweights",
        "show_errors",
        "augmenter_type",
        "posecfg_template",
    }
)


class Engine(enum.Enum):
    """DeepLabCut 3's deep-learning engines (``deeplabcut.Engine``).

    A DeepLabCut 3 script passes ``engine=deeplabcut.Engine.PYTORCH`` (or
    ``"pytorch"``, ``"tensorflow"``, ``"torch"``, ``"tf"``) to its verbs; with
    ``import posekit.engine as deeplabcut`` the name exists and every verb wrapped by
    :func:`dlc_keywords` accepts it. posekit has one engine, its own Keras network on
    TensorFlow, whatever the value: ``TF`` changes nothing; ``PYTORCH`` is logged once
    (the network trained, evaluated and run is posekit's, in DeepLabCut's file
    layout, not DeepLabCut's PyTorch model).

    Examples
    --------
    >>> Engine("torch"), Engine("TensorFlow"), Engine.TF.value
    (Engine.PYTORCH, Engine.TF, 'tensorflow')
    """

    PYTORCH = "pytorch"
    TF = "tensorflow"

    @property
    def aliases(self) -> tuple[str, ...]:
        """The names DeepLabCut takes for this engine (lower case)."""
        return ("pytorch", "torch") if self is Engine.PYTORCH else ("tensorflow", "tf")

    @classmethod
    def _missing_(cls, value: object) -> Engine | None:
        if isinstance(value, str):
            for member in cls:
                if value.lower() in member.aliases:
                    return member
        return None

    def __repr__(self) -> str:
        return f"Engine.{self.name}"


#: ``(verb, keyword)`` of the DeepLabCut keyword whose converter runs: the log
#: lines of :func:`refused` and :func:`ignored` name them.
_converting: contextvars.ContextVar[tuple[str, str]] = contextvars.ContextVar(
    "_converting", default=("", "")
)


def _named(value: Any) -> str:
    """Return ``"verb: DeepLabCut's keyword=value"`` for the keyword being converted."""
    verb, key = _converting.get()
    said = f"DeepLabCut's {key}={value!r}" if key else f"DeepLabCut's option {value!r}"
    return f"{verb}: {said}" if verb else said


#: Whether the PyTorch notice was logged in this process (it is logged once).
_pytorch_noted = False


def _engine(verb: str, value: Any) -> None:
    """Accept DeepLabCut 3's ``engine=``: posekit has one engine (see :class:`Engine`).

    ``None`` (DeepLabCut's default: the shuffle's engine) and ``Engine.TF`` change
    nothing; ``Engine.PYTORCH`` logs, once per process, that posekit trains and runs
    its own network. Another value is a ``TypeError`` naming the accepted ones.
    """
    if value is None:
        return
    if isinstance(value, enum.Enum) and value.name in Engine.__members__:
        engine = Engine[value.name]  # also DeepLabCut's own Engine members
    else:
        try:
            engine = Engine(value)
        except ValueError:
            raise TypeError(
                f"{verb}() got engine={value!r}, which is not one of DeepLabCut's "
                "engines: give Engine.TF or Engine.PYTORCH ('tensorflow' or "
                "'pytorch'), or leave engine= out. posekit trains and runs its own "
                "Keras network (TensorFlow) either way."
            ) from None
    if engine is Engine.PYTORCH:
        note_pytorch_engine("engine=Engine.PYTORCH", "engine= changes nothing else.")


def note_config_engine(project: Any) -> bool:
    """Say (once per process) when ``config.yaml`` asks for DeepLabCut 3's PyTorch.

    DeepLabCut 3 projects say ``engine: pytorch``; posekit trains its own network
    (:func:`note_pytorch_engine`). Returns whether it was said now.
    """
    if str(project.get("engine") or "").strip().lower() != "pytorch":
        return False
    return note_pytorch_engine(f"{project.config_path.name}'s engine: pytorch")


def note_pytorch_engine(source: str, more: str = "") -> bool:
    """Log, once per process, that posekit does not run DeepLabCut 3's PyTorch engine.

    Parameters
    ----------
    source
        What asked for PyTorch (``"engine=Engine.PYTORCH"``, ``"config.yaml's
        engine: pytorch"``).
    more
        A sentence added at the end.

    Returns
    -------
    bool
        Whether it was logged now (``False``: said before in this process).
    """
    global _pytorch_noted
    if _pytorch_noted:
        return False
    _pytorch_noted = True
    logger.warning(
        "%s (DeepLabCut 3): posekit has one engine; it trains, evaluates and runs "
        "its own Keras network (TensorFlow), not DeepLabCut's PyTorch model, with "
        "its own augmentation (not default_augmenter's albumentations), and writes "
        "DeepLabCut's files (dlc-models/, evaluation-results/, the predictions "
        ".h5), not dlc-models-pytorch/: DeepLabCut 3 lists those shuffles as "
        "TensorFlow ones. Said once.%s",
        source,
        f" {more}" if more else "",
    )
    return True


def renamed(name: str, convert: Callable[[Any], Any] | None = None) -> Converter:
    """Map a DeepLabCut keyword to posekit's ``name`` (the value ``convert``-ed)."""

    def apply(value: Any) -> dict[str, Any]:
        return {name: convert(value) if convert is not None else value}

    return apply


def elsewhere(hint: str) -> Converter:
    """Point a DeepLabCut keyword to where posekit takes the setting (an error)."""

    def apply(value: Any) -> dict[str, Any]:
        raise TypeError(hint.format(value=value))

    return apply


def refused(hint: str, *, unless: Callable[[Any], bool]) -> Converter:
    """Accept a DeepLabCut keyword whose value ``unless`` accepts; refuse the others.

    For a keyword whose DeepLabCut default changes nothing in posekit
    (``save_frames=False``) while other values would ask for something posekit does
    not do: those are a ``TypeError`` whose message is ``hint`` (``{value}`` in it is
    the value given).
    """

    def apply(value: Any) -> dict[str, Any]:
        if not unless(value):
            raise TypeError(hint.format(value=value))
        logger.info("%s changes nothing here; ignored", _named(value))
        return {}

    return apply


def _project_by_keyword(
    fn: Callable[..., Any], first: str, args: tuple, kwargs: dict
) -> None:
    """Move DeepLabCut's ``config=``/``cfg_path=`` into the verb's first argument."""
    for name in PROJECT_NAMES:
        if name not in kwargs or name == first:
            continue
        value = kwargs.pop(name)
        if args or first in kwargs:
            raise TypeError(
                f"{fn.__name__}() got {name}= (DeepLabCut's name of the project) "
                "and the project as its first argument: give one of them"
            )
        kwargs[first] = value


def ignored(why: str) -> Converter:
    """Accept a DeepLabCut keyword of one verb and drop it, saying ``why`` in the log."""

    def apply(value: Any) -> dict[str, Any]:
        logger.info("%s does not apply here: %s", _named(value), why)
        return {}

    return apply


def _with_training_set(
    fn: Callable[..., Any], args: tuple, kwargs: dict, index: Any
) -> tuple[tuple, dict]:
    """Give ``fn`` its project with ``TrainingFraction[index]`` in use.

    DeepLabCut's ``trainingsetindex``: the project (the verb's first argument) becomes
    :meth:`Project.for_training_set(index) <posekit.engine.project.Project.for_training_set>`.
    """
    if isinstance(index, str) or int(index) != index:
        raise TypeError(
            f"trainingsetindex={index!r}: give the index of one TrainingFraction "
            "(0, 1, …); call the verb once for each fraction."
        )
    project, rest = _project_argument(fn, args, kwargs, index)
    return (project.for_training_set(int(index)), *rest), kwargs


def _project_argument(
    fn: Callable[..., Any], args: tuple, kwargs: dict, index: Any
) -> tuple[Any, tuple]:
    """Take the project (the verb's first argument) out of ``args``/``kwargs``.

    Returns the :class:`~posekit.engine.project.Project` and the other positional
    arguments; a first argument that is no project is a ``TypeError`` that says
    ``trainingsetindex`` needs one.
    """
    from .project import as_project

    first = next(iter(inspect.signature(fn).parameters))
    if args:
        target, rest = args[0], args[1:]
    elif first in kwargs:
        target, rest = kwargs.pop(first), ()
    else:
        raise TypeError(f"{fn.__name__}() got trainingsetindex but no project")
    try:
        return as_project(target), rest
    except (OSError, ValueError) as err:
        raise TypeError(
            f"{fn.__name__}(): trainingsetindex={index!r} needs a project (its "
            f"folder or config.yaml) as the first argument: {err}"
        ) from err


def _every_training_set(
    fn: Callable[..., Any],
    args: tuple,
    kwargs: dict,
    combine: Callable[[list[Any]], Any] | None,
) -> Any:
    """DeepLabCut's ``trainingsetindex="all"``: run ``fn`` once per fraction.

    ``combine`` makes one result of the fractions' results, in ``TrainingFraction``
    order; ``None`` (a verb DeepLabCut runs on one fraction only) refuses ``"all"``.
    """
    if combine is None:
        raise TypeError(
            f"{fn.__name__}() got trainingsetindex='all': DeepLabCut runs every "
            "TrainingFraction in evaluate_network only; this verb takes one fraction "
            "per call. Call it once for each fraction: for i in "
            "range(len(cfg['TrainingFraction'])): "
            f"{fn.__name__}(config, ..., trainingsetindex=i)."
        )
    project, rest = _project_argument(fn, args, kwargs, "all")
    fractions = project.listed_training_fractions
    logger.info(
        "%s: trainingsetindex='all', TrainingFraction %s one after the other",
        fn.__name__,
        fractions,
    )
    return combine(
        [
            fn(project.for_training_set(i), *rest, **dict(kwargs))
            for i in range(len(fractions))
        ]
    )


def dlc_keywords(
    *,
    all_training_sets: Callable[[list[Any]], Any] | None = None,
    each_shuffle: Callable[[list[Any]], Any] | None = None,
    **names: Converter,
) -> Callable[[F], F]:
    """Let a verb take DeepLabCut's keyword names as well as its own.

    Parameters
    ----------
    all_training_sets
        For a verb DeepLabCut runs over every ``TrainingFraction`` with
        ``trainingsetindex="all"`` (``evaluate_network``): makes one result of the
        fractions' results (in ``TrainingFraction`` order). Without it,
        ``trainingsetindex="all"`` is a ``TypeError`` that says to call the verb
        once per fraction.
    each_shuffle
        For a verb DeepLabCut runs once per shuffle of ``Shuffles=[1, 2, ...]``
        (``evaluate_network``): makes one result of the shuffles' results (in the
        order given). With it, a list of several shuffles, given as DeepLabCut's
        ``Shuffles`` (converted by :func:`shuffle_numbers`) or as the verb's own
        ``shuffle``, runs the verb once per shuffle, each over the fractions
        ``trainingsetindex`` names (with ``"all"``: every fraction of shuffle 1,
        then of shuffle 2, as DeepLabCut loops); a list of one is that shuffle.
    **names
        DeepLabCut keyword → converter into posekit keywords (:func:`renamed`).
        ``trainingsetindex`` (which ``TrainingFraction``: the project argument
        becomes :meth:`~posekit.engine.project.Project.for_training_set`),
        DeepLabCut 3's ``engine`` (:class:`Engine`; posekit has one),
        ``config``/``cfg_path`` (the verb's first argument, the project, by
        DeepLabCut's name) and the :data:`IGNORED` names are accepted by every
        wrapped verb.

    Returns
    -------
    callable
        The decorator.

    Examples
    --------
    >>> @dlc_keywords(maxiters=renamed("max_iterations"))
    ... def train(config, *, max_iterations=10):
    ...     return max_iterations
    >>> train("config.yaml", maxiters=50, gputouse=0)
    50
    >>> train(config="config.yaml", maxiters=5)
    5
    """
    converters: dict[str, Converter] = dict(names)

    def decorate(fn: F) -> F:
        own = set(inspect.signature(fn).parameters)  # e.g. videotype, where used
        first = next(iter(inspect.signature(fn).parameters))

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _project_by_keyword(fn, first, args, kwargs)
            if "engine" in kwargs and "engine" not in own:
                _engine(fn.__name__, kwargs.pop("engine"))
            every = False
            if "trainingsetindex" in kwargs and "trainingsetindex" not in own:
                index = kwargs.pop("trainingsetindex")
                every = isinstance(index, str) and index == "all"
                if index != 0 and not every:
                    args, kwargs = _with_training_set(fn, args, kwargs, index)
            for key in [
                k for k in kwargs if k in converters or (k in IGNORED and k not in own)
            ]:
                value = kwargs.pop(key)
                if key not in converters:
                    logger.info(
                        "%s: DeepLabCut's %s=%r does not apply in posekit; ignored",
                        fn.__name__,
                        key,
                        value,
                    )
                    continue
                token = _converting.set((fn.__name__, key))
                try:  # the converter's log line names the verb and the keyword
                    changes = converters[key](value)
                finally:
                    _converting.reset(token)
                for ours, converted in changes.items():
                    given = kwargs.get(ours)
                    if (
                        isinstance(given, Mapping)
                        and isinstance(converted, dict)
                        and not set(given) & set(converted)  # e.g. two thresholds
                    ):
                        kwargs[ours] = {**given, **converted}
                        continue
                    if ours in kwargs:
                        raise TypeError(
                            f"{fn.__name__}() got {key} (DeepLabCut's name) and "
                            f"{ours} (posekit's): give one of them"
                        )
                    kwargs[ours] = converted

            def run(kw: dict[str, Any]) -> Any:
                if every:
                    return _every_training_set(fn, args, kw, all_training_sets)
                return fn(*args, **kw)

            if each_shuffle is not None and "shuffle" in kwargs:
                shuffles = _listed_shuffles(kwargs["shuffle"])
                if isinstance(shuffles, list):  # several: one run each, in order
                    logger.info(
                        "%s: shuffles %s one after the other", fn.__name__, shuffles
                    )
                    return each_shuffle(
                        [run({**kwargs, "shuffle": k}) for k in shuffles]
                    )
                kwargs["shuffle"] = shuffles
            return run(kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def one_shuffle(value: int | Sequence[int]) -> int:
    """DeepLabCut's ``Shuffles=[1]`` (a list) as one shuffle number."""
    if isinstance(value, int):
        return value
    shuffles = list(value)
    if len(shuffles) != 1:
        raise TypeError(
            f"Shuffles={shuffles}: posekit evaluates one shuffle per call; call it "
            "once for each (shuffle=…)."
        )
    return int(shuffles[0])


def shuffle_numbers(value: int | Iterable[int]) -> int | list[int]:
    """DeepLabCut's ``Shuffles=[...]`` as one shuffle number, or the list of several.

    For a verb DeepLabCut runs once per shuffle (``dlc_keywords(each_shuffle=...)``).

    Examples
    --------
    >>> shuffle_numbers([2]), shuffle_numbers((1, 3)), shuffle_numbers(4)
    (2, [1, 3], 4)
    >>> shuffle_numbers([])
    Traceback (most recent call last):
    TypeError: Shuffles=[]: give at least one shuffle number (Shuffles=[1]).
    """
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return _shuffle_number(value, value)
    shuffles = list(value)
    if not shuffles:
        raise TypeError(
            f"Shuffles={shuffles}: give at least one shuffle number (Shuffles=[1])."
        )
    numbers = [_shuffle_number(k, shuffles) for k in shuffles]
    return numbers[0] if len(numbers) == 1 else numbers


def _shuffle_number(value: Any, given: Any) -> int:
    """One shuffle number (an integer), or a ``TypeError`` that quotes ``given``."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"Shuffles={given!r}: shuffles are whole numbers, as in config.yaml's "
            "model folders (…shuffle1): give Shuffles=[1] or Shuffles=[1, 2]."
        ) from None


def _listed_shuffles(value: Any) -> Any:
    """Convert a list of shuffles with :func:`shuffle_numbers`; return others as given."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        return value
    return shuffle_numbers(value)


def thresholds(**criteria: Callable[[Any], float]) -> Converter:
    """Map a DeepLabCut threshold to posekit's ``thresholds`` of some criteria."""

    def apply(value: Any) -> dict[str, Any]:
        return {"thresholds": {name: f(value) for name, f in criteria.items()}}

    return apply
