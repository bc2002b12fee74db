package secgroup

import _ "example.com/fake/internal/clock"
