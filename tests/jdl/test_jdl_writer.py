"""``JobDescription.to_jdl`` writes its lines itself: the text is exactly ``dump(d.to_classad())``,
whatever the description holds, and an attribute of ``extra`` is checked as ``dump`` checks it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirac_core.errors import JDLError
from dirac_core.jdl import JobDescription, dump
from dirac_core.jdl.syntax import Bare

words = st.text(alphabet='ab "\\\n\t,;/', max_size=8)
word_tuples = st.lists(words, max_size=3).map(tuple)
extras = st.dictionaries(st.sampled_from(["MyThing", "Note.x", "_k"]),
                         st.one_of(words, st.integers(-5, 5), st.booleans(),
                                   st.lists(st.integers(0, 3), max_size=2),
                                   st.builds(Bare, st.sampled_from(["yes", "MCSimulation"]))),
                         max_size=3)

descriptions = st.builds(
    JobDescription,
    executable=words.filter(bool), arguments=st.none() | words, std_output=words, job_name=words,
    job_type=words, input_sandbox=word_tuples, output_sandbox=word_tuples, input_data=word_tuples,
    input_data_policy=st.none() | words, output_data=word_tuples, output_se=word_tuples,
    output_path=st.none() | words, sites=word_tuples, banned_sites=word_tuples, grid_ces=word_tuples,
    platforms=word_tuples, tags=st.frozensets(words, max_size=3), min_processors=st.integers(1, 4),
    max_processors=st.none() | st.integers(1, 8), whole_node=st.booleans(),
    max_ram_gb=st.none() | st.integers(1, 64), cpu_time=st.integers(100, 500_000),
    priority=st.integers(0, 10), job_group=st.none() | words,
    execution_environment=word_tuples, extra=extras,
)


@given(descriptions)
def test_the_text_is_dumps_text(desc: JobDescription) -> None:
    assert desc.to_jdl() == dump(desc.to_classad())


def test_an_extra_attribute_that_names_a_modelled_one_is_written_as_to_classad_writes_it() -> None:
    desc = JobDescription(executable="run.sh", cpu_time=3600, extra={"CPUTime": 7, "Other": "x"})
    text = desc.to_jdl()
    assert text == dump(desc.to_classad())
    assert "CPUTime = 7;" in text
    assert "3600" not in text


def test_an_invalid_extra_name_is_refused_as_dump_refuses_it() -> None:
    desc = JobDescription(executable="run.sh", extra={"bad name": 1})
    with pytest.raises(JDLError, match="invalid attribute name 'bad name'"):
        desc.to_jdl()
