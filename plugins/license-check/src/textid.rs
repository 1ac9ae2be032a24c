//! Identifies licence texts (LICENSE / COPYING files, `license-file` of crates,
//! dist-info licence files) by normalised-text matching against a small set of
//! templates written for this crate.
//!
//! Normalisation: lower case, words of letters and digits only (punctuation, comment
//! markers, bullets and line wrapping vanish), `licence` → `license`, `https` → `http`,
//! and copyright lines (`Copyright (c) 2024 …`) dropped. A template matches when at
//! least [`THRESHOLD`] of its word pairs (bigrams) occur in the text and every one of
//! its `must` phrases occurs verbatim; `<…>` in a template is a hole (a name or an
//! organisation) that pairs never span. When one matching template is mostly contained
//! in another that matches more (BSD-2-Clause in BSD-3-Clause, MIT-0 in MIT), only the
//! larger is kept. A text that matches nothing is unknown: never guessed.
//!
//! Full GPL-family texts are reported as `-only`: a bare licence text does not say
//! "or any later version"; the notice in the source files does, and `SPDX-License-Identifier`
//! headers are read separately.
//!
//! Tests: `textid::tests` (every template against a reflowed, re-commented copy; near
//! misses; unrelated prose).

use std::collections::HashSet;
use std::sync::LazyLock;

/// Minimum share of a template's bigrams that must occur in the text.
pub const THRESHOLD: f64 = 0.9;

struct Template {
    id: &'static str,
    text: &'static str,
    must: &'static [&'static str],
    /// Ids this template's match makes redundant (a full text carries a sample notice).
    supersedes: &'static [&'static str],
}

const MIT: &str = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated documentation files (the \"Software\"), to deal in the Software without restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the following conditions: The above copyright notice and this permission notice shall be included in all copies or substantial portions of the Software. THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE <authors> BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.";

const MIT_0: &str = "Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated documentation files (the \"Software\"), to deal in the Software without restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so. THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE <authors> BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.";

const BSD_2: &str = "Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met: Redistributions of source code must retain the above copyright notice, this list of conditions and the following disclaimer. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the following disclaimer in the documentation and/or other materials provided with the distribution. THIS SOFTWARE IS PROVIDED BY <holders> \"AS IS\" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL <holder> BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.";

const BSD_3: &str = "Redistribution and use in source and binary forms, with or without modification, are permitted provided that the following conditions are met: Redistributions of source code must retain the above copyright notice, this list of conditions and the following disclaimer. Redistributions in binary form must reproduce the above copyright notice, this list of conditions and the following disclaimer in the documentation and/or other materials provided with the distribution. Neither the name of <holder> nor the names of its contributors may be used to endorse or promote products derived from this software without specific prior written permission. THIS SOFTWARE IS PROVIDED BY <holders> \"AS IS\" AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL <holder> BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.";

const ISC: &str = "Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted, provided that the above copyright notice and this permission notice appear in all copies. THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.";

const ZERO_BSD: &str = "Permission to use, copy, modify, and/or distribute this software for any purpose with or without fee is hereby granted. THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.";

/// Distinctive parts of the Apache License 2.0 (title, sections 1–3).
const APACHE_2: &str = "Apache License Version 2.0, January 2004 TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION Definitions. \"License\" shall mean the terms and conditions for use, reproduction, and distribution as defined by Sections 1 through 9 of this document. \"Licensor\" shall mean the copyright owner or entity authorized by the copyright owner that is granting the License. Grant of Copyright License. Subject to the terms and conditions of this License, each Contributor hereby grants to You a perpetual, worldwide, non-exclusive, no-charge, royalty-free, irrevocable copyright license to reproduce, prepare Derivative Works of, publicly display, publicly perform, sublicense, and distribute the Work and such Derivative Works in Source or Object form. Grant of Patent License. Subject to the terms and conditions of this License, each Contributor hereby grants to You a perpetual, worldwide, non-exclusive, no-charge, royalty-free, irrevocable (except as stated in this section) patent license to make, have made, use, offer to sell, sell, import, and otherwise transfer the Work";

/// The notice the Apache License asks to put in source files.
const APACHE_2_NOTICE: &str = "Licensed under the Apache License, Version 2.0 (the \"License\"); you may not use this file except in compliance with the License. You may obtain a copy of the License at http://www.apache.org/licenses/LICENSE-2.0 Unless required by applicable law or agreed to in writing, software distributed under the License is distributed on an \"AS IS\" BASIS, WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the License for the specific language governing permissions and limitations under the License.";

const MPL_2: &str = "Mozilla Public License Version 2.0 Definitions \"Contributor\" means each individual or legal entity that creates, contributes to the creation of, or owns Covered Software. \"Contributor Version\" means the combination of the Contributions of others (if any) used by a Contributor and that particular Contributor's Contribution. \"Contribution\" means Covered Software of a particular Contributor.";

const MPL_2_NOTICE: &str = "This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0. If a copy of the MPL was not distributed with this file, You can obtain one at http://mozilla.org/MPL/2.0/.";

const GPL_NOTICE_2_LATER: &str = "This program is free software; you can redistribute it and/or modify it under the terms of the GNU General Public License as published by the Free Software Foundation; either version 2 of the License, or (at your option) any later version. This program is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public License for more details.";

const GPL_NOTICE_3_LATER: &str = "This program is free software: you can redistribute it and/or modify it under the terms of the GNU General Public License as published by the Free Software Foundation, either version 3 of the License, or (at your option) any later version. This program is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE. See the GNU General Public License for more details.";

const LGPL_NOTICE_21_LATER: &str = "This library is free software; you can redistribute it and/or modify it under the terms of the GNU Lesser General Public License as published by the Free Software Foundation; either version 2.1 of the License, or (at your option) any later version. This library is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE. See the GNU Lesser General Public License for more details.";

const LGPL_NOTICE_3_LATER: &str = "This program is free software: you can redistribute it and/or modify it under the terms of the GNU Lesser General Public License as published by the Free Software Foundation, either version 3 of the License, or (at your option) any later version. This program is distributed in the hope that it will be useful, but WITHOUT ANY WARRANTY; without even the implied warranty of MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE. See the GNU Lesser General Public License for more details.";

const GPL_3_TEXT: &str = "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007 Everyone is permitted to copy and distribute verbatim copies of this license document, but changing it is not allowed. Preamble The GNU General Public License is a free, copyleft license for software and other kinds of works. The licenses for most software and other practical works are designed to take away your freedom to share and change the works.";

const GPL_2_TEXT: &str = "GNU GENERAL PUBLIC LICENSE Version 2, June 1991 Everyone is permitted to copy and distribute verbatim copies of this license document, but changing it is not allowed. Preamble The licenses for most software are designed to take away your freedom to share and change it. By contrast, the GNU General Public License is intended to guarantee your freedom to share and change free software--to make sure the software is free for all its users.";

const LGPL_3_TEXT: &str = "GNU LESSER GENERAL PUBLIC LICENSE Version 3, 29 June 2007 Everyone is permitted to copy and distribute verbatim copies of this license document, but changing it is not allowed. This version of the GNU Lesser General Public License incorporates the terms and conditions of version 3 of the GNU General Public License, supplemented by the additional permissions listed below.";

const UNLICENSE: &str = "This is free and unencumbered software released into the public domain. Anyone is free to copy, modify, publish, use, compile, sell, or distribute this software, either in source code form or as a compiled binary, for any purpose, commercial or non-commercial, and by any means.";

const ZLIB: &str = "This software is provided 'as-is', without any express or implied warranty. In no event will the authors be held liable for any damages arising from the use of this software. Permission is granted to anyone to use this software for any purpose, including commercial applications, and to alter it and redistribute it freely, subject to the following restrictions: The origin of this software must not be misrepresented; you must not claim that you wrote the original software. If you use this software in a product, an acknowledgment in the product documentation would be appreciated but is not required. Altered source versions must be plainly marked as such, and must not be misrepresented as being the original software. This notice may not be removed or altered from any source distribution.";

const BSL_1: &str = "Permission is hereby granted, free of charge, to any person or organization obtaining a copy of the software and accompanying documentation covered by this license (the \"Software\") to use, reproduce, display, distribute, execute, and transmit the Software, and to prepare derivative works of the Software, and to permit third-parties to whom the Software is furnished to do so, all subject to the following:";

const UNICODE_3: &str = "UNICODE LICENSE V3 Permission is hereby granted, free of charge, to any person obtaining a copy of data files and any associated documentation (the \"Data Files\") or software and any associated documentation (the \"Software\") to deal in the Data Files or Software without restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute, and/or sell copies of the Data Files or Software, and to permit persons to whom the Data Files or Software are furnished to do so, provided that either (a) this copyright and permission notice appear with all copies of the Data Files or Software, or (b) this copyright and permission notice appear in associated Documentation. THE DATA FILES AND SOFTWARE ARE PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT OF THIRD PARTY RIGHTS. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR HOLDERS INCLUDED IN THIS NOTICE BE LIABLE FOR ANY CLAIM, OR ANY SPECIAL INDIRECT OR CONSEQUENTIAL DAMAGES, OR ANY DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THE DATA FILES OR SOFTWARE. Except as contained in this notice, the name of a copyright holder shall not be used in advertising or otherwise to promote the sale, use or other dealings in these Data Files or Software without prior written authorization of the copyright holder.";

const TEMPLATES: &[Template] = &[
    Template {
        id: "MIT",
        text: MIT,
        must: &[
            "use copy modify merge publish distribute sublicense and or sell copies",
            "shall be included in all copies",
        ],
        supersedes: &[],
    },
    Template {
        id: "MIT-0",
        text: MIT_0,
        must: &[
            "use copy modify merge publish distribute sublicense and or sell copies",
            "furnished to do so the software is provided",
        ],
        supersedes: &[],
    },
    Template {
        id: "BSD-2-Clause",
        text: BSD_2,
        must: &[
            "redistribution and use in source and binary forms with or without modification are permitted",
        ],
        supersedes: &[],
    },
    Template {
        id: "BSD-3-Clause",
        text: BSD_3,
        must: &[
            "redistribution and use in source and binary forms with or without modification are permitted",
            "endorse or promote products",
        ],
        supersedes: &[],
    },
    Template {
        id: "ISC",
        text: ISC,
        must: &[
            "permission to use copy modify and or distribute this software for any purpose",
            "appear in all copies",
        ],
        supersedes: &[],
    },
    Template {
        id: "0BSD",
        text: ZERO_BSD,
        must: &["with or without fee is hereby granted the software is provided"],
        supersedes: &[],
    },
    Template {
        id: "Apache-2.0",
        text: APACHE_2,
        must: &["apache license"],
        supersedes: &[],
    },
    Template {
        id: "Apache-2.0",
        text: APACHE_2_NOTICE,
        must: &["apache license version 2 0"],
        supersedes: &[],
    },
    Template {
        id: "MPL-2.0",
        text: MPL_2,
        must: &["mozilla public license version 2 0"],
        supersedes: &[],
    },
    Template {
        id: "MPL-2.0",
        text: MPL_2_NOTICE,
        must: &["mozilla public license v 2 0"],
        supersedes: &[],
    },
    Template {
        id: "GPL-2.0-or-later",
        text: GPL_NOTICE_2_LATER,
        must: &[
            "gnu general public license as published",
            "version 2 of the license or at your option any later version",
        ],
        supersedes: &[],
    },
    Template {
        id: "GPL-3.0-or-later",
        text: GPL_NOTICE_3_LATER,
        must: &[
            "gnu general public license as published",
            "version 3 of the license or at your option any later version",
        ],
        supersedes: &[],
    },
    Template {
        id: "LGPL-2.1-or-later",
        text: LGPL_NOTICE_21_LATER,
        must: &[
            "gnu lesser general public license as published",
            "version 2 1 of the license or at your option any later version",
        ],
        supersedes: &[],
    },
    Template {
        id: "LGPL-3.0-or-later",
        text: LGPL_NOTICE_3_LATER,
        must: &[
            "gnu lesser general public license as published",
            "version 3 of the license or at your option any later version",
        ],
        supersedes: &[],
    },
    Template {
        id: "GPL-3.0-only",
        text: GPL_3_TEXT,
        must: &["gnu general public license version 3"],
        supersedes: &["GPL-3.0-or-later"],
    },
    Template {
        id: "GPL-2.0-only",
        text: GPL_2_TEXT,
        must: &["gnu general public license version 2"],
        supersedes: &["GPL-2.0-or-later"],
    },
    Template {
        id: "LGPL-3.0-only",
        text: LGPL_3_TEXT,
        must: &["gnu lesser general public license version 3"],
        // The LGPL-3.0 text sits on top of the GPL-3.0 one; files often hold both.
        supersedes: &["LGPL-3.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later"],
    },
    Template {
        id: "Unicode-3.0",
        text: UNICODE_3,
        must: &["unicode license v3"],
        supersedes: &[],
    },
    Template {
        id: "Unlicense",
        text: UNLICENSE,
        must: &["released into the public domain"],
        supersedes: &[],
    },
    Template {
        id: "Zlib",
        text: ZLIB,
        must: &["must not be misrepresented"],
        supersedes: &[],
    },
    Template {
        id: "BSL-1.0",
        text: BSL_1,
        must: &["to any person or organization obtaining a copy"],
        supersedes: &[],
    },
];

/// One identified licence in a text.
#[derive(Debug, Clone, PartialEq)]
pub struct Identified {
    /// Canonical SPDX id.
    pub id: &'static str,
    /// Share of the template's bigrams found (0–1).
    pub score: f64,
}

fn normalise_word(w: &str) -> &str {
    match w {
        "licence" => "license",
        "licences" => "licenses",
        "licenced" => "licensed",
        "https" => "http",
        _ => w,
    }
}

/// Copyright lines carry names and years that no template can know.
fn is_copyright_line(line: &str) -> bool {
    let t = line
        .trim_start_matches(|c: char| !c.is_alphanumeric() && c != '(' && c != '©')
        .to_lowercase();
    if t.starts_with('©') || t.starts_with("(c)") {
        return true;
    }
    let Some(rest) = t.strip_prefix("copyright").map(str::trim_start) else {
        return false;
    };
    rest.starts_with("(c)")
        || rest.starts_with('©')
        || rest.starts_with(|c: char| c.is_ascii_digit())
        || rest.is_empty()
}

/// Normalised words of `text` (see the module docs).
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if is_copyright_line(line) {
            continue;
        }
        for w in line
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            let lower = w.to_lowercase();
            out.push(normalise_word(&lower).to_string());
        }
    }
    out
}

fn template_bigrams(text: &str) -> HashSet<(String, String)> {
    let mut set = HashSet::new();
    // Holes split the template: no pair spans a `<…>`.
    let mut rest = text;
    loop {
        let (segment, after) = match rest.find('<') {
            Some(i) => {
                let close = rest[i..].find('>').map_or(rest.len(), |j| i + j + 1);
                (&rest[..i], Some(&rest[close..]))
            }
            None => (rest, None),
        };
        let w = words(segment);
        for pair in w.windows(2) {
            set.insert((pair[0].clone(), pair[1].clone()));
        }
        match after {
            Some(a) => rest = a,
            None => break,
        }
    }
    set
}

fn contains_phrase(haystack: &[String], phrase: &str) -> bool {
    let needle: Vec<&str> = phrase.split(' ').collect();
    haystack
        .windows(needle.len())
        .any(|w| w.iter().zip(&needle).all(|(a, b)| a == b))
}

/// Bigrams of every template, computed once.
static TEMPLATE_PAIRS: LazyLock<Vec<HashSet<(String, String)>>> =
    LazyLock::new(|| TEMPLATES.iter().map(|t| template_bigrams(t.text)).collect());

/// Licences whose text appears in `text`, best first. Empty = unknown.
pub fn identify(text: &str) -> Vec<Identified> {
    let w = words(text);
    let text_pairs: HashSet<(String, String)> =
        w.windows(2).map(|p| (p[0].clone(), p[1].clone())).collect();
    struct Hit {
        id: &'static str,
        score: f64,
        matched: HashSet<(String, String)>,
        supersedes: &'static [&'static str],
    }
    let mut hits: Vec<Hit> = Vec::new();
    for (t, pairs) in TEMPLATES.iter().zip(TEMPLATE_PAIRS.iter()) {
        if pairs.is_empty() {
            continue;
        }
        let matched: HashSet<(String, String)> = pairs.intersection(&text_pairs).cloned().collect();
        let score = matched.len() as f64 / pairs.len() as f64;
        if score < THRESHOLD || !t.must.iter().all(|m| contains_phrase(&w, m)) {
            continue;
        }
        hits.push(Hit {
            id: t.id,
            score,
            matched,
            supersedes: t.supersedes,
        });
    }
    let mut keep = vec![true; hits.len()];
    for (i, a) in hits.iter().enumerate() {
        for (j, b) in hits.iter().enumerate() {
            if i == j || a.id == b.id {
                continue;
            }
            if b.supersedes.contains(&a.id) {
                keep[i] = false;
            }
            // `a` is (mostly) a part of `b`, and `b` explains more of the text.
            let shared = a.matched.intersection(&b.matched).count() as f64;
            if b.matched.len() > a.matched.len() && shared >= 0.8 * a.matched.len() as f64 {
                keep[i] = false;
            }
        }
    }
    let mut out: Vec<Identified> = Vec::new();
    for (h, k) in hits.iter().zip(keep) {
        if !k {
            continue;
        }
        match out.iter_mut().find(|o| o.id == h.id) {
            Some(o) => o.score = o.score.max(h.score),
            None => out.push(Identified {
                id: h.id,
                score: h.score,
            }),
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// Templated licence ids, for docs and tests.
pub fn template_ids() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = TEMPLATES.iter().map(|t| t.id).collect();
    v.dedup();
    v
}

#[cfg(test)]
mod tests;
