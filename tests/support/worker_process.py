"""The worker child process used by integration tests (see ops.child_worker)."""

from ops.child_worker import ChildWorker as WorkerProcess

__all__ = ["WorkerProcess"]
