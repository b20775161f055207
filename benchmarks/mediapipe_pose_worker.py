"""MediaPipe Pose on a list of photos, one image per call: the peer of benchmarks/predict.py.

Runs in MediaPipe's own environment (mediapipe==0.10.21 pins numpy<2 and protobuf<5, which
TensorFlow 2.21 does not accept), so it imports nothing of tfpose:

    MEDIAPIPE_PY benchmarks/mediapipe_pose_worker.py OUT.json IMAGE...

``Pose(static_image_mode=True, model_complexity=1)`` is the person detector plus
``pose_landmark_full.tflite``, the model the wheel ships. Writes {"seconds": wall time of the
loop (model loaded, first image excluded), "images": n, "landmarks": {path: 33 x [x, y] in
original pixels, or null when no person was found}}; decoding (OpenCV) is inside the timing.
"""

import json
import sys
import time

import cv2
import mediapipe as mp


def main(out, paths):
    landmarks = {}
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        def run(path):
            image = cv2.imread(path)
            height, width = image.shape[:2]
            result = pose.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            if result.pose_landmarks is None:
                return None
            return [[p.x * width - 0.5, p.y * height - 0.5] for p in result.pose_landmarks.landmark]

        landmarks[paths[0]] = run(paths[0])  # warm-up: graph set-up and allocation
        start = time.perf_counter()
        for path in paths[1:]:
            landmarks[path] = run(path)
        seconds = time.perf_counter() - start
    with open(out, "w") as f:
        json.dump({"seconds": seconds, "images": len(paths) - 1, "landmarks": landmarks}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
