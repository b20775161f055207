#!/usr/bin/env bash
# `make run`: the whole double CNN end to end on embedded data, on 2 CPU cores.
# synth -> convert -> inspect -> train pose -> train two-stage -> evaluate -> export -> predict.
set -euo pipefail
RUN=${1:-runs/demo}
IMAGES=${DEMO_IMAGES:-1500}
DATA=tfrecords/demo
SAMPLES=tests/data/mpii_sample
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
start=$(date +%s)
step() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

step "1/9 synthesise $IMAGES MPII-layout images"
tfpose synth "$RUN/synth" --images "$IMAGES" --seed 0
step "2/9 convert to TFRecords (person crops, group-aware 80/10/10 split)"
tfpose convert "$RUN/synth/mpii_synthetic.mat" --images "$RUN/synth/images" --out "$DATA" \
  --image-size 128 --overwrite
step "3/9 inspect the converted dataset"
tfpose inspect "$DATA" --examples 8 --out "$RUN/inspect"
step "4/9 train the pose model (demo 2-stack hourglass)"
tfpose train configs/demo/pose.yaml --workdir "$RUN/pose" --overwrite
step "5/9 train the two-stage classifier on predicted joints"
tfpose train configs/demo/two_stage.yaml --workdir "$RUN/two_stage" --overwrite \
  --set "model.pose_workdir=$RUN/pose"
step "6/9 evaluate (Table 1: PCKh, Table 2: activity)"
tfpose evaluate "$RUN/pose" --split test
tfpose evaluate "$RUN/two_stage" --split test
step "7/9 export the two-stage model for TF Serving"
tfpose export "$RUN/two_stage" --base "$RUN/export" --name double_cnn --version 1 --overwrite
step "8/9 predict on the 5 real MPII sample images"
tfpose predict "$RUN/export/double_cnn" "$SAMPLES"/*.jpg --out "$RUN/predictions"
step "9/9 the shipped real-photo model (lspet) beside the demo pose model on the real photos"
python scripts/real_photos.py "$RUN/real_photos" lspet "$RUN/pose"

step "done in $(( $(date +%s) - start ))s"
cat <<MSG
  dataset        $DATA (manifest.json, convert.log)
  inspection     $RUN/inspect/*.png
  pose model     $RUN/pose (model.keras, best.keras, log.csv, eval-test.json, tb/)
  double CNN     $RUN/two_stage (model.keras, eval-test.json, confusion-test.png, tb/)
  export         $RUN/export/double_cnn/1 (SavedModel for TF Serving)
  predictions    $RUN/predictions/*.png
  real photos    $RUN/real_photos/lspet/*.png (shipped lspet model; the demo model beside it)
  TensorBoard    tensorboard --logdir $RUN
MSG
