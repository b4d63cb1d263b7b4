"""SQLAlchemy 2 ORM scenario (psycopg 3 dialect): metadata create_all
(catalog introspection), ORM CRUD, session rollback, nested savepoints,
typed columns round-tripped through the ORM, IntegrityError's SQLSTATE."""
import datetime
import decimal
import uuid

from sqlalchemy import (JSON, BigInteger, Boolean, Date, DateTime, Float, ForeignKey, Integer, Interval,
                        LargeBinary, Numeric, String, Text, create_engine, func, inspect, select, text)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from common import DB, HOST, PASSWORD, PORT, USER, check, err, norm, out


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "sa_author"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(50), nullable=False, unique=True)
    books: Mapped[list["Book"]] = relationship(back_populates="author", order_by="Book.id",
                                               primaryjoin="Author.id == foreign(Book.author_id)")


class Book(Base):
    __tablename__ = "sa_book"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The relationship is declared without a database FOREIGN KEY so that
    # the ORM checks below do not all hinge on it; `ddl.foreign_key` tests
    # the constraint itself.
    author_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(Text)
    author: Mapped[Author] = relationship(back_populates="books", primaryjoin="Author.id == foreign(Book.author_id)")


class Everything(Base):
    __tablename__ = "sa_types"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    big = mapped_column(BigInteger)
    num = mapped_column(Numeric(12, 4))
    flt = mapped_column(Float)
    flag = mapped_column(Boolean)
    txt = mapped_column(Text)
    raw = mapped_column(LargeBinary)
    day = mapped_column(Date)
    at = mapped_column(DateTime(timezone=True))
    span = mapped_column(Interval)
    uid = mapped_column(UUID(as_uuid=True))
    js = mapped_column(JSON)
    jsb = mapped_column(JSONB)
    ints = mapped_column(ARRAY(Integer))


def url(**q):
    qs = "&".join(f"{k}={v}" for k, v in q.items())
    return f"postgresql+psycopg://{USER}:{PASSWORD}@{HOST}:{PORT}/{DB}" + (f"?{qs}" if qs else "")


def run():
    check("connect.tls", lambda: _one(create_engine(url(sslmode="require")), "SELECT 'ok'"))
    engine = create_engine(url(sslmode="disable"))
    check("connect.scram", lambda: _one(engine, "SELECT 'ok'"))

    def ddl():
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        return sorted(t for t in inspect(engine).get_table_names() if t.startswith("sa_"))
    check("ddl.create_all", ddl)
    def foreign_key():
        from sqlalchemy import Column, MetaData, Table
        md = MetaData()
        Table("sa_fk_parent", md, Column("id", Integer, primary_key=True))
        Table("sa_fk_child", md, Column("id", Integer, primary_key=True),
              Column("parent_id", Integer, ForeignKey("sa_fk_parent.id")))
        md.drop_all(engine)
        md.create_all(engine)
        fks = inspect(engine).get_foreign_keys("sa_fk_child")
        md.drop_all(engine)
        return [(f["constrained_columns"], f["referred_table"], f["referred_columns"]) for f in fks]
    check("ddl.foreign_key", foreign_key)
    check("ddl.columns", lambda: [c["name"] for c in inspect(engine).get_columns("sa_book")])

    def crud():
        with Session(engine) as s:
            a = Author(id=1, name="ann", books=[Book(id=1, title="one"), Book(id=2, title=None)])
            s.add_all([a, Author(id=2, name="bob")])
            s.commit()
            b = s.get(Book, 1)
            b.title = "uno"
            s.delete(s.get(Author, 2))
            s.commit()
            rows = s.execute(select(Author.name, Book.title).join(Book, Author.id == Book.author_id).order_by(Book.id)).all()
            return [tuple(r) for r in rows]
    check("crud.orm", crud)
    check("crud.relationship", lambda: _titles(engine))
    check("crud.aggregate", lambda: Session(engine).execute(
        select(Author.name, func.count(Book.id)).outerjoin(Book, Author.id == Book.author_id).group_by(Author.name).order_by(Author.name)).all())

    def rollback():
        with Session(engine) as s:
            s.add(Author(id=3, name="cy"))
            s.flush()
            s.rollback()
            return s.scalar(select(func.count()).select_from(Author))
    check("txn.rollback", rollback)

    def savepoint():
        with Session(engine) as s:
            s.add(Author(id=4, name="dee"))
            try:
                with s.begin_nested():
                    s.add(Author(id=5, name="ann"))  # duplicate name: 23505
            except DBAPIError as e:
                out("savepoint.error", err(e))
            s.commit()
            return s.scalars(select(Author.name).order_by(Author.id)).all()
    check("savepoint.rows", savepoint)

    def types():
        v = Everything(id=1, big=9007199254740993, num=decimal.Decimal("12345.6789"), flt=1.5e-3, flag=True,
                       txt="héllo", raw=b"\x00\xff", day=datetime.date(2024, 2, 29),
                       at=datetime.datetime(2024, 2, 29, 12, 34, 56, 789000, tzinfo=datetime.timezone.utc),
                       span=datetime.timedelta(days=2, seconds=5), uid=uuid.UUID(int=7),
                       js={"k": [1, None]}, jsb={"a": 1}, ints=[1, 2, 3])
        with Session(engine) as s:
            s.add(v)
            s.commit()
        with Session(engine) as s:
            e = s.get(Everything, 1)
            cols = ["big", "num", "flt", "flag", "txt", "raw", "day", "at", "span", "uid", "js", "jsb", "ints"]
            for c in cols:
                out(f"types.{c}.text", norm(getattr(e, c)))
            return "read"
    check("types.orm", types)

    def errors():
        with Session(engine) as s:
            s.add(Author(id=1, name="again"))
            s.commit()
    check("errors.unique", errors)
    check("errors.undefined_table", lambda: _one(engine, "SELECT * FROM sa_missing"))

    def prepared():
        with engine.connect() as c:
            st = text("SELECT :x * 2")
            return sum(c.execute(st, {"x": i}).scalar() for i in range(200))
    check("prepared.reuse", prepared)
    svc = create_engine(url(sslmode="disable", options="-crustydb.service%3Dolap"))
    check("service.options", lambda: _one(svc, "SELECT 1"))
    Base.metadata.drop_all(engine)


def _one(engine, sql):
    with engine.connect() as c:
        return c.execute(text(sql)).scalar()


def _titles(engine):
    with Session(engine) as s:
        a = s.scalars(select(Author).where(Author.name == "ann")).one()
        return [b.title for b in a.books]


if __name__ == "__main__":
    run()
