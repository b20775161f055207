"""Where the real MPII material lives (``../shared/mpii`` beside the repo) and what it holds.

Tests that read it skip when it is absent: a user's fresh clone has no ``../shared``.
"""

from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_MPII = SHARED / "mpii"
TRAIN_ANNOTATIONS = SHARED_MPII / "annotations" / "mpii_train_annotations.mat"

# Persons per category in the real training annotations (../shared/mpii/README.md).
TRAIN_CATEGORY_COUNTS = {
    "sports": 2842, "occupation": 1977, "conditioning exercise": 1452, "home activities": 1182,
    "lawn and garden": 964, "home repair": 937, "water activities": 865,
    "fishing and hunting": 640, "winter activities": 634, "miscellaneous": 609, "dancing": 498,
    "walking": 466, "music playing": 446, "bicycling": 443, "running": 226,
    "inactivity quiet/light": 155, "religious activities": 90, "transportation": 77,
    "self care": 76, "volunteer activities": 35,
}  # fmt: skip
TRAIN_UNLABELLED = 35
