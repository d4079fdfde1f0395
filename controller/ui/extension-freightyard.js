// placeholder until make ui
