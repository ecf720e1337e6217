"""The commands sngan prints so a user can act on a run (resume it, extend it, start it afresh, retry with a lower
lr): one builder, `Rerun`, holds the run's own command line and every printed command is an edit of it, so they all
run verbatim and agree with each other."""
from __future__ import annotations

import shlex
from dataclasses import dataclass

from .identity import key_of


@dataclass(frozen=True)
class Rerun:
    """`sngan <command> <args>`: the arguments as the user typed them, with any hydra.run.dir resolved to the folder
    it made (a `${now:...}` in it would resolve elsewhere next time). `known` is False for a run started from Python,
    whose command line sngan cannot know: its commands then say `<same overrides>`."""

    command: str
    args: tuple[str, ...] = ()
    known: bool = True

    @classmethod
    def of(cls, command: str, argv: list[str], run_dir: str | None = None) -> "Rerun":
        """The rerun of a single run typed as `sngan command argv`, in run_dir when a hydra.run.dir was given."""
        args = [a for a in argv if key_of(a) != "hydra.run.dir"]
        if run_dir is not None and len(args) != len(argv):
            args.append(f"hydra.run.dir={run_dir}")
        return cls(command, tuple(args))

    def text(self, drop: tuple[str, ...] = (), add: tuple[str, ...] = ()) -> str:
        """The command line, without the arguments whose key is in `drop`, with `add` (placeholders such as
        `optim.lr=<lower>` unquoted) after it."""
        if not self.known:
            return " ".join(["sngan", self.command, "<same overrides>", *add])
        kept = [shlex.quote(a) for a in self.args if key_of(a) not in drop]
        return " ".join(["sngan", self.command, *kept, *add])

    def resume(self) -> str:
        return self.text()

    def again(self) -> str:
        """How a message names the resuming command: quoted when known, else 'the same command'."""
        return f"`{self.resume()}`" if self.known else "the same command"

    def extend(self, step: int) -> str:
        """The command that continues a finished run in its own folder to twice its length."""
        return self.text(drop=("train.steps",), add=(f"train.steps={2 * max(step, 1)}",))

    def afresh(self) -> str:
        """The same command in a new run folder."""
        return self.text(drop=("name", "hydra.run.dir"), add=("name=NEW_NAME",))

    def lower_lr(self) -> str:
        """Continue from the last checkpoint with a lower lr (the resume guard refuses a changed optim.* unless
        forced)."""
        return self.text(add=("optim.lr=<lower>", "resume_force=true"))


UNKNOWN_TRAIN = Rerun("train", known=False)
