package strategy

import _ "example.com/fake/internal/clock"
