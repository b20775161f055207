"""MediaPipe Pose on a video clip in its tracking (video) mode: the peer of benchmarks/video.py.

Runs in MediaPipe's own environment (see mediapipe_pose_worker.py), importing nothing of tfpose:

    MEDIAPIPE_PY benchmarks/mediapipe_video_worker.py OUT.json CLIP [MAX_FRAMES]

``Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True)``: the legacy
solution's video mode (the person detector runs only until a person is found, then the landmark
model tracks it from the previous frame's landmarks, with MediaPipe's own One-Euro landmark
smoothing), the same graph as the Tasks API's PoseLandmarker in RunningMode.VIDEO, which needs
a downloaded .task bundle. Writes {"seconds": wall time of the loop (first frame excluded),
"frames": n, "landmarks": [33 x [x, y] original pixels, or null]}; decoding (OpenCV) is timed.
"""

import json
import sys
import time

import cv2
import mediapipe as mp


def main(out, clip, max_frames=None):
    capture = cv2.VideoCapture(clip)
    landmarks, start = [], None
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1,
                                smooth_landmarks=True) as pose:
        while max_frames is None or len(landmarks) < max_frames:
            ok, image = capture.read()
            if not ok:
                break
            height, width = image.shape[:2]
            result = pose.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
            landmarks.append(None if result.pose_landmarks is None else
                             [[p.x * width - 0.5, p.y * height - 0.5]
                              for p in result.pose_landmarks.landmark])
            if start is None:  # the first frame pays for graph set-up
                start = time.perf_counter()
    seconds = time.perf_counter() - start
    with open(out, "w") as f:
        json.dump({"seconds": seconds, "frames": len(landmarks) - 1, "landmarks": landmarks}, f)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else None)
