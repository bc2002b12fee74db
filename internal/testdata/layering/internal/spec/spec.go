package spec

import (
	"fmt"
	"github.com/pkg/errors"
	"go.yaml.in/yaml/v3"
)

const Name = "spec"

var _, _, _ = fmt.Sprint, errors.New, yaml.Marshal
