from bot.guards import Reason, check_readability, check_unusual, decide_state, reading_grade
from bot.store import APPROVED, PENDING, Post


def test_reading_grade_ignores_links_and_short_posts():
    assert reading_grade("Hi there.") == 0.0
    assert reading_grade("The cat sat on the mat. It was a good day. https://example.com/x") \
        == 0.0


def test_readability_reason_names_post_platform_and_grade():
    hard = ("Notwithstanding considerable organizational complexity, multidisciplinary "
            "contractors satisfactorily completed rehabilitation.")
    reasons = check_readability({"x": (Post("Easy words here."), Post(hard))}, 9)
    assert reasons == [Reason("readability", "post 2 (x) reads at grade 41.7, above this "
                              "recipe's limit of 9: shorter sentences and words help", True)]


def test_unusual_by_history_and_by_move():
    assert check_unusual("the total", 150, 140, [100, 120, 140], 0.5) == [
        Reason("unusual", "the total is 150, outside its range in the last 3 periods (100 to "
                          "140)", True)]
    assert check_unusual("the total", 300, 100, [], 0.5) == [
        Reason("unusual", "the total moved +200% from the period before (this recipe flags "
                          "moves over 50%)", True)]
    assert check_unusual("the total", 110, 100, [90, 100, 120], 0.5) == []
    assert check_unusual("the total", 110, None, [1, 2], 0.5) == []


def test_decide_state():
    unusual = [Reason("unusual", "x", True)]
    hard = [Reason("readability", "x", True)]
    note = [Reason("split", "x", False)]
    assert decide_state("required", []) == PENDING
    assert decide_state("auto", unusual) == APPROVED
    assert decide_state("auto", hard) == PENDING
    assert decide_state("auto-unless-unusual", unusual) == PENDING
    assert decide_state("auto-unless-unusual", note) == APPROVED


def test_ages_under_a_day_are_hours_and_durations_stay_exact():
    from datetime import timedelta

    from bot.guards import plain_age, plain_duration

    assert [plain_age(timedelta(seconds=s)) for s in (45, 90, 7200, 18000 + 3599, 86400,
                                                      12 * 86400 + 5)] == [
        "45 seconds", "1 minute", "2 hours", "5 hours", "1 day", "12 days"]
    assert [plain_duration(timedelta(hours=h)) for h in (2, 24, 36, 168)] == [
        "2 hours", "1 day", "36 hours", "1 week"]
