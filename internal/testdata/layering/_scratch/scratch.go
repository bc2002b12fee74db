package scratch

import _ "example.com/fake/internal/testkit"
