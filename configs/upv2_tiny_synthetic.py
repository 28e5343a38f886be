# Short name of the embedded default: configs/upv2_mobilenetv2_1xcpu-770it_synthetic.py.
_base_ = ['./upv2_mobilenetv2_1xcpu-770it_synthetic.py']
