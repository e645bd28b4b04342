from nkkb.core.review import Review, cited_numbers


def test_citations_expand_ranges_and_lists():
    text = "shown (4–6) and (40, 143) and (72-75), not (NCT05475847) nor (CR) nor (www.x.gov)"
    assert cited_numbers(text) == {4, 5, 6, 40, 143, 72, 73, 74, 75}


def test_sections_nest_subsections_and_stop_at_the_next_section():
    review = Review(
        " 1 Introduction\nintro (1)\n5 Cytokines\n\n5.1 IL-2\nil2 (55)\n5.2 IL-15\nil15 (84)\n"
        "6 Monoclonal antibodies\nmabs (106)\n"
    )
    assert set(review.sections) == {"1", "5", "5.1", "5.2", "6"}
    assert review.citations("5") == {55, 84}
    assert review.citations("5.1") == {55}
    assert review.section_text("5.2") == "il15 (84)"
    assert "mabs" not in review.sections["5"]


def test_the_real_review_has_its_thirteen_sections(review):
    assert list(review.sections) == [
        "1",
        "2",
        "3",
        "4",
        "5",
        "5.1",
        "5.2",
        "6",
        "6.1",
        "6.2",
        "7",
        "8",
        "9",
    ]
    assert {95, 96} <= review.citations("5.2")
