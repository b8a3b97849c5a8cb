"""Jobs that outlive the page and the process: a persistent queue (``store``), what each kind of job
runs (``kinds``), the process that runs one job (``runner``) and the app's embedded workers
(``supervisor``). See docs/architecture.md, "Jobs and workspaces"."""

from .kinds import KINDS, JobKind, kind
from .store import FINAL, STATUSES, Job, JobError, JobStore, TooManyJobs

__all__ = ["FINAL", "KINDS", "STATUSES", "Job", "JobError", "JobKind", "JobStore", "TooManyJobs", "kind"]
