import pytest

from telemetry.topics import (
    Topic,
    TopicError,
    TopicKind,
    gateway_acl_pattern,
    parse_topic,
    state_topic,
    subscription_filters,
    telemetry_topic,
)


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("tracker/v1/ksp/post-12/telemetry", Topic("ksp", "post-12", TopicKind.TELEMETRY)),
        ("tracker/v1/lex_pd/GW1/state", Topic("lex_pd", "GW1", TopicKind.STATE)),
    ],
)
def test_contract_topics_parse_into_agency_gateway_and_kind(topic, expected):
    assert parse_topic(topic) == expected


@pytest.mark.parametrize(
    ("topic", "complaint"),
    [
        ("other/v1/ksp/gw/telemetry", "does not start with"),
        ("tracker/v2/ksp/gw/telemetry", "does not start with"),
        ("tracker/v1/ksp/telemetry", "must be"),
        ("tracker/v1/ksp/gw/extra/telemetry", "must be"),
        ("tracker/v1/ksp/gw/commands", "expected 'telemetry' or 'state'"),
        ("tracker/v1/k sp/gw/telemetry", "agency segment"),
        ("tracker/v1/ksp/g+w/telemetry", "gateway segment"),
        ("tracker/v1//gw/telemetry", "agency segment"),
    ],
)
def test_topics_outside_the_contract_are_refused_with_the_reason(topic, complaint):
    with pytest.raises(TopicError, match=complaint):
        parse_topic(topic)


def test_built_topics_parse_back_to_the_same_parts():
    assert parse_topic(telemetry_topic("ksp", "post-12")) == Topic(
        "ksp", "post-12", TopicKind.TELEMETRY
    )
    assert parse_topic(state_topic("ksp", "post-12")) == Topic("ksp", "post-12", TopicKind.STATE)


def test_a_custom_root_is_honoured():
    assert parse_topic("acme/t/ksp/gw/state", root="acme/t").agency == "ksp"
    assert telemetry_topic("ksp", "gw", root="acme/t/") == "acme/t/ksp/gw/telemetry"


def test_building_a_topic_with_a_wildcard_is_refused():
    with pytest.raises(TopicError):
        telemetry_topic("ksp", "#")


def test_subscriptions_cover_telemetry_and_state_and_share_only_telemetry():
    assert subscription_filters() == ["tracker/v1/+/+/telemetry", "tracker/v1/+/+/state"]
    assert subscription_filters(shared_group="ingest") == [
        "$share/ingest/tracker/v1/+/+/telemetry",
        "tracker/v1/+/+/state",
    ]


def test_a_gateway_may_publish_only_under_its_own_tree():
    assert gateway_acl_pattern("ksp", "post-12") == "tracker/v1/ksp/post-12/#"
