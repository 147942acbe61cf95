"""One construct per concern; each exposes the resources it creates as attributes for the others."""

from .access import AccessPolicies
from .alarms import Alarms
from .buckets import ArchiveBucket, StagingBucket
from .filer import Filer
from .queue import FilerQueue

__all__ = ["AccessPolicies", "Alarms", "ArchiveBucket", "Filer", "FilerQueue", "StagingBucket"]
