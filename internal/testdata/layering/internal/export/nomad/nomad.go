package nomad
